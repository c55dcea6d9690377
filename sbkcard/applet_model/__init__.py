"""What runs on the chip: the national file tree and data items, the user card COS, the PSAM."""
