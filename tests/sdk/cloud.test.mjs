// Cloud code through the official SDK: Parse.Cloud.run, validators, and object triggers
// (the sample modules in tests/sample_cloud_functions are loaded by the server under test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Parse from './setup.mjs';

test('Parse.Cloud.run passes params and returns the result', async () => {
  assert.equal(await Parse.Cloud.run('hello', { name: 'Ballast' }), 'Hello, Ballast!');
  assert.equal(await Parse.Cloud.run('syncAdd', { a: 40 }), 41);
});

test('the master key reaches the function as req.master, without leaking the key into headers', async () => {
  const who = await Parse.Cloud.run('whoami', {}, { useMasterKey: true });
  assert.equal(who.master, true);
  assert.equal(who.hasMasterKeyHeader, false);
  assert.equal((await Parse.Cloud.run('whoami')).master, false);
});

test('an unknown function is SCRIPT_FAILED with Parse\'s message', async () => {
  await assert.rejects(Parse.Cloud.run('noSuchFunction'),
    err => err.code === Parse.Error.SCRIPT_FAILED && err.message === 'Invalid function: "noSuchFunction"');
});

test('validators refuse missing, mistyped and unlisted params with VALIDATION_ERROR', async () => {
  await assert.rejects(Parse.Cloud.run('syncAdd', {}),
    err => err.code === Parse.Error.VALIDATION_ERROR && err.message === 'Validation failed. Please specify data for a.');
  await assert.rejects(Parse.Cloud.run('syncAdd', { a: 'one' }),
    err => err.code === Parse.Error.VALIDATION_ERROR && err.message === 'Validation failed. Invalid type for a. Expected: number');
  await assert.rejects(Parse.Cloud.run('pickColor', { color: 'blue' }),
    err => err.code === Parse.Error.VALIDATION_ERROR
      && err.message === 'Validation failed. Invalid option for color. Expected: red, green');
  await assert.rejects(Parse.Cloud.run('needsUser'),
    err => err.code === Parse.Error.VALIDATION_ERROR && err.message === 'Validation failed. Please login to continue.');
});

test('cloud.Error reaches the client as that error; a crash is 141 without its details', async () => {
  await assert.rejects(Parse.Cloud.run('refuses'),
    err => err.code === Parse.Error.VALIDATION_ERROR && err.message === 'not today');
  await assert.rejects(Parse.Cloud.run('crashes'),
    err => err.code === Parse.Error.SCRIPT_FAILED && !err.message.includes('shadow'));
});

test('a beforeSave that rejects keeps the object out', async () => {
  await assert.rejects(new Parse.Object('CloudReview').save({ text: 'no', movie: 'sdk-reject' }),
    err => err.code === Parse.Error.VALIDATION_ERROR && err.message === 'review too short');
  assert.equal(await new Parse.Query('CloudReview').equalTo('movie', 'sdk-reject').count(), 0);
});

test('a beforeSave that mutates stores the changed fields', async () => {
  const review = await new Parse.Object('CloudReview').save({ text: '  loved it  ', movie: 'sdk-mutate' });
  // the save's answer carries what the trigger changed, so the SDK's object is current without a fetch
  assert.equal(review.get('text'), 'loved it');
  assert.equal(review.get('checked'), true);
  const stored = await new Parse.Query('CloudReview').get(review.id);
  assert.equal(stored.get('text'), 'loved it');
  assert.equal(stored.get('checked'), true);
});

test('afterSave sees the saved object (it writes an audit row)', async () => {
  const review = await new Parse.Object('CloudReview').save({ text: 'solid plot', movie: 'sdk-after' });
  const audits = await new Parse.Query('CloudAudit').equalTo('review', review.id).find();
  assert.equal(audits.length, 1);
  assert.equal(audits[0].get('text'), 'solid plot');
  assert.equal(audits[0].get('isNew'), true);
  assert.equal(await Parse.Cloud.run('countReviews', { movie: 'sdk-after' }), 1);
});

test('beforeFind narrows a query and afterFind changes the results', async () => {
  await new Parse.Object('CloudSecret').save({ label: 'shown', visible: true });
  await new Parse.Object('CloudSecret').save({ label: 'hidden', visible: false });
  const found = await new Parse.Query('CloudSecret').find();
  assert.deepEqual(found.map(obj => obj.get('label')), ['shown']);
  assert.equal(found[0].get('seen'), true);
  const got = await new Parse.Query('CloudSecret').get(found[0].id);
  assert.equal(got.get('seen'), true, 'afterFind runs on a get too, as in Parse');
});

test('beforeFind runs on a get by id too (object.fetch), with request.isGet', async () => {
  const hidden = await new Parse.Object('CloudSecret').save({ label: 'get-hidden', visible: false });
  await assert.rejects(hidden.fetch(),
    err => err.code === Parse.Error.OBJECT_NOT_FOUND);
  await assert.rejects(new Parse.Query('CloudSecret').get(hidden.id),
    err => err.code === Parse.Error.OBJECT_NOT_FOUND);
  const direct = await new Parse.Object('CloudDirectOnly').save({ n: 7 });
  // fetch is GET /classes/X/<id> (isGet); Parse.Query.get is a find limited to the id, as on Parse Server
  const fetched = await direct.fetch();
  assert.equal(fetched.get('n'), 7);
  await assert.rejects(new Parse.Query('CloudDirectOnly').get(direct.id),
    err => err.code === Parse.Error.OPERATION_FORBIDDEN && err.message === 'fetch these by id');
});

test('a function that returns nothing resolves to undefined (Parse answers {})', async () => {
  assert.equal(await Parse.Cloud.run('silent'), undefined);
  const raw = await fetch(`${Parse.serverURL}/functions/silent`, {
    method: 'POST', headers: { 'X-Parse-Application-Id': Parse.applicationId, 'Content-Type': 'application/json' },
    body: '{}',
  });
  assert.deepEqual(await raw.json(), {});
});

test('trigger validators: required options, defaults and constant fields', async () => {
  await assert.rejects(new Parse.Object('CloudRating').save({ stars: 9 }),
    err => err.code === Parse.Error.VALIDATION_ERROR
      && err.message === 'Validation failed. Invalid option for stars. Expected: 1, 2, 3, 4, 5');
  const rating = await new Parse.Object('CloudRating').save({ stars: 4, owner: 'ann' });
  let stored = await new Parse.Query('CloudRating').get(rating.id);
  assert.equal(stored.get('kind'), 'movie');
  rating.set('owner', 'bob');
  rating.set('stars', 5);
  await rating.save();
  stored = await new Parse.Query('CloudRating').get(rating.id);
  assert.equal(stored.get('owner'), 'ann');
  assert.equal(stored.get('stars'), 5);
});

test('a logged-in user reaches functions as req.user, and requireUser lets them in', async () => {
  const user = await Parse.User.signUp(`cloud-${Date.now()}`, 'pw-123456');
  try {
    const who = await Parse.Cloud.run('whoami', {}, { sessionToken: user.getSessionToken() });
    assert.equal(who.user, user.id);
    assert.equal(who.master, false);
    assert.equal(await Parse.Cloud.run('needsUser', {}, { sessionToken: user.getSessionToken() }), 'ok');
    const file = new Parse.File('by-user.txt', { base64: Buffer.from('mine').toString('base64') });
    await file.save({ sessionToken: user.getSessionToken() });  // authenticated users may upload by default
    assert.match(file.name(), /_by-user\.txt$/);
  } finally {
    await Parse.User.logOut();
  }
});

test('save(..., { context }) reaches beforeSave and afterSave', async () => {
  const review = await new Parse.Object('CloudReview').save({ text: 'context film', movie: 'sdk-context' },
    { context: { source: 'sdk' } });
  const audit = await new Parse.Query('CloudAudit').equalTo('review', review.id).first();
  assert.deepEqual(audit.get('context'), { source: 'sdk', checkedBy: 'beforeSave' });
});
