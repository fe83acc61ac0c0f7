// Driven by tests/realtime/test_reconnect.py (not a *.test.mjs): the SDK's LiveQuery client across a server restart.
// Prints READY once subscribed, RESUBSCRIBED after the client reconnected and subscribed again, then
// CREATE <objectId> for the first create event after that, and exits.
import Parse from './setup.mjs';

Parse.liveQueryServerURL = process.env.PARSE_SERVER_URL.replace(/^http/, 'ws');
const subscription = await new Parse.Query(process.env.LIVE_CLASS).subscribe();
let opened = 0;
subscription.on('open', () => {
  opened += 1;
  console.log(opened === 1 ? 'READY' : 'RESUBSCRIBED');
});
subscription.on('create', async (object) => {
  if (opened < 2) return;
  console.log(`CREATE ${object.id}`);
  await Parse.LiveQuery.close();
  process.exit(0);
});
setTimeout(() => { console.log('TIMEOUT'); process.exit(2); }, 120_000);
