// A web store's side of the shop, written from docs/contract.md alone (Node.js + amqplib, no Kiltshop code):
// place an order, amend it, follow it through its events, cancel it.
//
//   npm install amqplib
//   BROKER_URL=amqp://guest:guest@127.0.0.1:5672/ NAMESPACE=kiltshop CONTACT_ID=1 node webstore-client.mjs
//
// Prints one JSON line with what happened, for the test that runs it (tests/test_other_language.py).
import amqp from "amqplib";
import { randomUUID } from "node:crypto";

const url = process.env.BROKER_URL ?? "amqp://guest:guest@127.0.0.1:5672/";
const ns = process.env.NAMESPACE ?? "kiltshop";
const contactId = Number(process.env.CONTACT_ID ?? "1");
const user = decodeURIComponent(new URL(url).username || "guest");

const connection = await amqp.connect(url);
const channel = await connection.createConfirmChannel();

// Replies: an exclusive queue of our own, <ns>.reply.<our login>.<one word>, matched by correlation_id. The
// service replies only to a reply queue named for the request's user_id; the broker lets only us use it.
const token = () => randomUUID().replaceAll("-", "");
const replyQueue = `${ns}.reply.${user}.${token()}`;
await channel.assertQueue(replyQueue, { exclusive: true, autoDelete: true });
const waiting = new Map();
await channel.consume(replyQueue, (msg) => {
  const done = waiting.get(msg.properties.correlationId);
  if (done) { waiting.delete(msg.properties.correlationId); done(JSON.parse(msg.content.toString("utf8"))); }
}, { noAck: true });

// Events: subscribe before acting, on an exclusive queue of our own, <ns>.client.<our login>.<one word>.
const events = [];
const eventQueue = `${ns}.client.${user}.${token()}`;
await channel.assertQueue(eventQueue, { exclusive: true, autoDelete: true });
await channel.bindQueue(eventQueue, `${ns}.events`, "order.*");
await channel.consume(eventQueue, (msg) => { events.push(JSON.parse(msg.content.toString("utf8"))); }, { noAck: true });

// Changes are sent persistent, so one waiting for the service survives a broker restart; reads need not be.
const changes = new Set(["orders.place", "orders.amend", "orders.cancel", "contacts.create", "contacts.update"]);

async function call(method, params, messageId = randomUUID()) {
  const correlationId = randomUUID();
  const reply = new Promise((resolve, reject) => {
    waiting.set(correlationId, resolve);
    setTimeout(() => reject(new Error(`${method}: no reply within 10 s`)), 10000);
  });
  channel.publish(`${ns}.rpc`, method, Buffer.from(JSON.stringify(params)), {
    contentType: "application/json", correlationId, replyTo: replyQueue, messageId, userId: user,
    expiration: "10000", timestamp: Math.floor(Date.now() / 1000), mandatory: true, appId: "webstore-example",
    persistent: changes.has(method),
  });
  await channel.waitForConfirms();
  const answer = await reply;
  if (!answer.ok) throw new Error(`${method} refused: ${answer.error.code}: ${answer.error.message}`);
  return answer.result;
}

const kilt = { description: "Eight-yard kilt", tartan: "MacGregor", quantity: 1, unit_price_pence: 48000 };
const placeId = randomUUID();
const placed = await call("orders.place", { contact_id: contactId, items: [kilt], notes: "Web order" }, placeId);
const again = await call("orders.place", { contact_id: contactId, items: [kilt], notes: "Web order" }, placeId);
const amended = await call("orders.amend", { id: placed.id, version: placed.version,
  items: [{ ...kilt, quantity: 2 }] });
let stale = null;
try { await call("orders.amend", { id: placed.id, version: placed.version, notes: "late" }); }
catch (error) { stale = error.message.split(":")[1].trim(); }
const cancelled = await call("orders.cancel", { id: placed.id, version: amended.version });

const deadline = Date.now() + 10000;
while (events.filter((e) => e.data.id === placed.id).length < 3 && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
}
const mine = events.filter((e) => e.data.id === placed.id);
console.log(JSON.stringify({
  number: placed.number, same_order_on_retry: again.id === placed.id, amended_total: amended.total_pence,
  stale_edit: stale, final_status: cancelled.status, events: mine.map((e) => e.event), seqs: mine.map((e) => e.seq),
  reply_queue: replyQueue, event_queue: eventQueue,
}));
await connection.close();
