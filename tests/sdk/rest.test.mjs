// The REST surface beyond /classes through the official SDK: batch (saveAll/destroyAll, transactions),
// Parse.Schema, Parse.Config, counts, aggregate and distinct.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Parse from './setup.mjs';

test('saveAll and destroyAll go through /batch', async () => {
  const items = [1, 2, 3].map(n => new Parse.Object('Batched', { n }));
  await Parse.Object.saveAll(items);
  assert.ok(items.every(item => /^[A-Za-z0-9]{10}$/.test(item.id)));
  assert.equal(await new Parse.Query('Batched').count(), 3);
  items.forEach(item => item.increment('n', 10));
  await Parse.Object.saveAll(items);
  const fetched = await new Parse.Query('Batched').ascending('n').find();
  assert.deepEqual(fetched.map(o => o.get('n')), [11, 12, 13]);
  await Parse.Object.destroyAll(items);
  assert.equal(await new Parse.Query('Batched').count(), 0);
});

test('a transactional saveAll that fails saves nothing', async () => {
  await new Parse.Object('TxSdk', { key: 'seed' }).save();
  const items = [new Parse.Object('TxSdk', { key: 'a' }), new Parse.Object('TxSdk', { key: 7 })];
  await assert.rejects(Parse.Object.saveAll(items, { transaction: true }));
  const keys = (await new Parse.Query('TxSdk').find()).map(o => o.get('key'));
  assert.deepEqual(keys, ['seed']);
  const good = [new Parse.Object('TxSdk', { key: 'b' }), new Parse.Object('TxSdk', { key: 'c' })];
  await Parse.Object.saveAll(good, { transaction: true });
  assert.equal(await new Parse.Query('TxSdk').count(), 3);
});

test('destroyAll of a missing object reports it in an aggregate error', async () => {
  const kept = await new Parse.Object('Partial', { x: 1 }).save();
  const ghost = Parse.Object.createWithoutData('Partial', 'nosuchid00');
  ghost.className = 'Partial';
  await assert.rejects(Parse.Object.destroyAll([kept, ghost]), err => err.code === Parse.Error.AGGREGATE_ERROR
    && err.errors.length === 1 && err.errors[0].code === Parse.Error.OBJECT_NOT_FOUND);
  assert.equal(await new Parse.Query('Partial').count(), 0);
});

test('Parse.Schema: save, get, addField/update, indexes, purge, delete', async () => {
  const schema = new Parse.Schema('SdkSchema');
  schema.addString('name').addNumber('level').addPointer('owner', '_User').addBoolean('active');
  await schema.save();
  let got = await new Parse.Schema('SdkSchema').get();
  assert.equal(got.className, 'SdkSchema');
  assert.deepEqual(got.fields.owner, { type: 'Pointer', targetClass: '_User' });
  assert.deepEqual(got.fields.objectId, { type: 'String' });

  const change = new Parse.Schema('SdkSchema');
  change.addDate('seen').addIndex('by_name', { name: 1 }).deleteField('active');
  await change.update();
  got = await new Parse.Schema('SdkSchema').get();
  assert.equal(got.fields.seen.type, 'Date');
  assert.equal(got.fields.active, undefined);
  assert.deepEqual(got.indexes.by_name, { name: 1 });
  await new Parse.Schema('SdkSchema').deleteIndex('by_name').update();
  got = await new Parse.Schema('SdkSchema').get();
  assert.deepEqual(got.indexes, { _id_: { _id: 1 } }, 'Parse keeps _id_ after the last index goes');

  const all = await Parse.Schema.all();
  assert.ok(all.some(s => s.className === 'SdkSchema'));

  await new Parse.Object('SdkSchema', { name: 'x', level: 2 }).save();
  await assert.rejects(new Parse.Schema('SdkSchema').delete(), err => err.code === 255);
  await new Parse.Schema('SdkSchema').purge();
  assert.equal(await new Parse.Query('SdkSchema').count(), 0);
  await new Parse.Schema('SdkSchema').delete();
  await assert.rejects(new Parse.Schema('SdkSchema').get(), err => err.code === Parse.Error.INVALID_CLASS_NAME);
});

test('Parse.Config: save with the master key, get reads it back', async () => {
  await Parse.Config.save({ greeting: 'hello', limit: 3, internal: 'x' }, { internal: true });
  const config = await Parse.Config.get();
  assert.equal(config.get('greeting'), 'hello');
  assert.equal(config.get('limit'), 3);
  assert.equal(Parse.Config.current().get('greeting'), 'hello');
  const withMaster = await Parse.Config.get({ useMasterKey: true });
  assert.equal(withMaster.get('internal'), 'x');
});

test('counts, aggregate and distinct', async () => {
  const rows = [['red', 10], ['red', 20], ['blue', 5]].map(([team, score]) => new Parse.Object('Agg', { team, score }));
  await Parse.Object.saveAll(rows);
  const query = new Parse.Query('Agg');
  assert.equal(await query.count(), 3);
  assert.equal(await new Parse.Query('Agg').equalTo('team', 'red').count(), 2);
  const grouped = await new Parse.Query('Agg').aggregate([
    { $group: { _id: '$team', total: { $sum: '$score' } } }, { $sort: { total: -1 } },
  ]);
  assert.deepEqual(grouped, [{ objectId: 'red', total: 30 }, { objectId: 'blue', total: 5 }]);
  const teams = await new Parse.Query('Agg').greaterThan('score', 1).distinct('team');
  assert.deepEqual(teams.sort(), ['blue', 'red']);
});

test('an installation saved twice with the same id stays one', async () => {
  const first = new Parse.Installation();
  first.set({ installationId: 'sdk-install-1', deviceType: 'web', badge: 1 });
  await first.save(null, { useMasterKey: true });
  const second = new Parse.Installation();
  second.set({ installationId: 'sdk-install-1', badge: 2 });
  await second.save(null, { useMasterKey: true });
  const all = await new Parse.Query(Parse.Installation).find({ useMasterKey: true });
  assert.equal(all.length, 1);
  assert.equal(all[0].get('badge'), 2);
  assert.equal(second.id, first.id);
});

test('push audiences through the SDK\'s REST controller (what Parse Dashboard\'s push page sends)', async () => {
  const rest = Parse.CoreManager.getRESTController();
  const master = { useMasterKey: true };
  const query = { deviceType: { $in: ['ios', 'android'] } };
  const made = await rest.request('POST', 'push_audiences', { name: 'Phones', query: JSON.stringify(query) }, master);
  const listed = await rest.request('GET', 'push_audiences', {}, master);
  assert.deepEqual(listed.results.map(a => [a.objectId, a.name, a.query]), [[made.objectId, 'Phones', query]]);
  await rest.request('PUT', `push_audiences/${made.objectId}`, { name: 'All phones' }, master);
  assert.equal((await rest.request('GET', `push_audiences/${made.objectId}`, {}, master)).name, 'All phones');
  await assert.rejects(rest.request('GET', 'push_audiences', {}, {}), err => /master key/.test(err.message));
  await rest.request('DELETE', `push_audiences/${made.objectId}`, {}, master);
  assert.deepEqual((await rest.request('GET', 'push_audiences', {}, master)).results, []);
});
