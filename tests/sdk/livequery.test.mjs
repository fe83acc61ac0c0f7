// LiveQuery as the official Parse JS SDK sees it: every event type, keys/watch, unsubscribe, session tokens.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import Parse from './setup.mjs';

const wsURL = process.env.PARSE_SERVER_URL.replace(/^http/, 'ws');
Parse.liveQueryServerURL = wsURL;
const unique = (name) => `${name}_${Math.random().toString(36).slice(2, 8)}`;

// the next emission of `event` on a subscription, as [object, original?]
const next = (subscription, event) => new Promise((resolve) => subscription.emitter.once(event, (...args) => resolve(args)));

after(async () => {
  await Parse.LiveQuery.close();
});

test('create, update, leave, enter and delete follow an object through a query', async () => {
  const className = unique('Score');
  const query = new Parse.Query(className).greaterThan('points', 10);
  const subscription = await query.subscribe();
  await next(subscription, 'open');

  const created = next(subscription, 'create');
  const score = await new Parse.Object(className).save({ points: 20, player: 'ada' });
  const [createdObject] = await created;
  assert.equal(createdObject.id, score.id);
  assert.equal(createdObject.get('player'), 'ada');
  assert.ok(createdObject.createdAt instanceof Date);

  const updated = next(subscription, 'update');
  await score.save({ points: 30 });
  const [updatedObject, original] = await updated;
  assert.equal(updatedObject.get('points'), 30);
  assert.equal(original.get('points'), 20);

  const left = next(subscription, 'leave');
  await score.save({ points: 1 });
  assert.equal((await left)[0].get('points'), 1);

  const entered = next(subscription, 'enter');
  await score.save({ points: 99 });
  const [enteredObject, before] = await entered;
  assert.equal(enteredObject.get('points'), 99);
  assert.equal(before.get('points'), 1);

  const deleted = next(subscription, 'delete');
  await score.destroy();
  assert.equal((await deleted)[0].id, score.id);
  await subscription.unsubscribe();
});

test('select (keys) limits the fields sent and watch limits which updates are sent', async () => {
  const className = unique('Player');
  const query = new Parse.Query(className).select('name').watch('level');
  const subscription = await query.subscribe();
  await next(subscription, 'open');

  const created = next(subscription, 'create');
  const player = await new Parse.Object(className).save({ name: 'ada', level: 1, bio: 'long' });
  const [createdObject] = await created;
  assert.equal(createdObject.get('name'), 'ada');
  assert.equal(createdObject.get('bio'), undefined);

  const updates = [];
  subscription.on('update', (object) => updates.push(object));
  const updated = next(subscription, 'update');
  await player.save({ bio: 'not watched' });
  await player.save({ level: 2 });
  await updated;
  assert.equal(updates.length, 1);  // the bio change was not sent
  await subscription.unsubscribe();
});

test('after unsubscribe no more events arrive', async () => {
  const className = unique('Game');
  const stopped = await new Parse.Query(className).equalTo('kind', 'a').subscribe();
  const marker = await new Parse.Query(className).equalTo('kind', 'marker').subscribe();
  await Promise.all([next(stopped, 'open'), next(marker, 'open')]);
  await stopped.unsubscribe();
  let late = 0;
  stopped.on('create', () => { late += 1; });

  const markerEvent = next(marker, 'create');
  await new Parse.Object(className).save({ kind: 'a' });
  await new Parse.Object(className).save({ kind: 'marker' });
  await markerEvent;
  assert.equal(late, 0);
});

test('a session-token client sees only objects its user may read', async () => {
  const ada = await Parse.User.signUp(unique('ada'), 'pw-ada');
  const adaToken = ada.getSessionToken();
  await Parse.User.logOut();
  const bob = await Parse.User.signUp(unique('bob'), 'pw-bob');
  await Parse.User.logOut();

  const client = new Parse.LiveQueryClient({
    applicationId: process.env.PARSE_APP_ID, serverURL: wsURL, sessionToken: adaToken,
  });
  client.open();
  const className = unique('Letter');
  const subscription = client.subscribe(new Parse.Query(className));
  await next(subscription, 'open');

  const seen = [];
  subscription.on('create', (object) => seen.push(object.get('to')));
  const forAda = next(subscription, 'create');
  const letter = (to, user) => {
    const acl = new Parse.ACL();
    acl.setReadAccess(user, true);
    return new Parse.Object(className).setACL(acl).save({ to }, { useMasterKey: true });
  };
  await letter('bob', bob);
  await letter('ada', ada);
  await forAda;
  assert.deepEqual(seen, ['ada']);
  await client.close();
});
