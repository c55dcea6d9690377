// The counter page's client of `sbkcard serve`: plain JavaScript, no build step.
// One WebSocket; each request {"function": NAME, ...parameters, "id": N} gets one answer
// {"id": N, "function": NAME, "code": CODE, "pOutInfo": STRING} (code 0 = success).
"use strict";

const token = new URLSearchParams(location.search).get("token");
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const socket = new WebSocket(`${scheme}//${location.host}/ws${token ? "?token=" + encodeURIComponent(token) : ""}`);
const waiting = new Map();
let nextId = 1;
let card = null; // {cardId, number} of the card read last

function call(fn, params) {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    socket.send(JSON.stringify({ function: fn, id, ...params }));
  });
}

socket.onmessage = (event) => {
  const answer = JSON.parse(event.data);
  const resolve = waiting.get(answer.id);
  if (resolve) { waiting.delete(answer.id); resolve(answer); }
  else show(`${answer.code} ${answer.pOutInfo}`, true);
};
socket.onopen = () => show("ready: put a card in the reader");
socket.onclose = () => show("disconnected from sbkcard serve", true);

function show(text, error = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = error ? "error" : "";
}

function fields(text) { return text.split("|").slice(0, -1); } // every field ends with "|"

function now() {
  const d = new Date(), p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

document.getElementById("read").onclick = async () => {
  show("reading…");
  const a = await call("iReadCardBas", { iType: 1 });
  if (a.code !== 0) return show(`${a.code} ${a.pOutInfo}`, true);
  const f = fields(a.pOutInfo); // region|SSN|number|card id|name|ATR|version|issued|expiry|terminal|device|
  card = { cardId: f[3], number: f[2] };
  document.getElementById("name").textContent = f[4];
  document.getElementById("ssn").textContent = f[1];
  document.getElementById("number").textContent = f[2];
  document.getElementById("region").textContent = f[0];
  document.getElementById("validity").textContent = `${f[7]}–${f[8]}`;
  document.getElementById("card").hidden = false;
  document.getElementById("pay").disabled = false;
  document.getElementById("records").disabled = false;
  show("card read");
};

document.getElementById("pay").onclick = async () => {
  const amount = Number(document.getElementById("amount").value).toFixed(2);
  show("paying: the cardholder types the PIN on the PIN pad…");
  const a = await call("iDoDebit", {
    iType: 1,
    pCardInfo: `${card.cardId}|${card.number}|`,
    pPayInfo: `${amount}|0.00|${now()}|`,
  });
  if (a.code !== 0) return show(`${a.code} ${a.pOutInfo}`, true);
  const f = fields(a.pOutInfo); // alg|key address|amounts|type|terminal|terminal seq|time|TAC|
  document.getElementById("paid").textContent = `paid ${amount} 元, terminal sequence ${f[5]}, time ${f[6]}`;
  show("payment done");
};

document.getElementById("records").onclick = async () => {
  const a = await call("iReadDebitRecord", { iType: 1 });
  if (a.code !== 0) return show(`${a.code} ${a.pOutInfo}`, true);
  const body = document.querySelector("#history tbody");
  body.replaceChildren();
  for (const record of fields(a.pOutInfo)) { // seq^terminal^time^total^account+pooled^
    const row = body.insertRow();
    for (const value of record.split("^").slice(0, -1)) row.insertCell().textContent = value;
  }
  document.getElementById("history").hidden = false;
  show(`${body.rows.length} purchase record(s)`);
};
