"""The runtime that hosts applet models: power, ATR, journaled NVM, images, the vpcd bridge."""
