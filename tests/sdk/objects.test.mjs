// Parse.Object round trips: save, fetch, update with ops, destroy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Parse from './setup.mjs';

test('save then fetch returns every field type as saved', async () => {
  const when = new Date('2024-05-06T07:08:09.123Z');
  const target = await new Parse.Object('Target').save({ label: 't' });
  const obj = new Parse.Object('Everything');
  obj.set({
    text: 'hello', number: 42.5, flag: true, when, list: [1, 'two', { three: 3 }],
    nested: { a: { b: 'c' } }, pointer: target,
    point: new Parse.GeoPoint(40.5, -73.25),
    area: new Parse.Polygon([[0, 0], [0, 1], [1, 1], [1, 0]]),
    bytes: { __type: 'Bytes', base64: 'aGVsbG8=' },
  });
  await obj.save();
  assert.match(obj.id, /^[A-Za-z0-9]{10}$/);
  const fetched = await new Parse.Query('Everything').get(obj.id);
  assert.equal(fetched.get('text'), 'hello');
  assert.equal(fetched.get('number'), 42.5);
  assert.equal(fetched.get('flag'), true);
  assert.equal(fetched.get('when').toISOString(), when.toISOString());
  assert.deepEqual(fetched.get('list'), [1, 'two', { three: 3 }]);
  assert.deepEqual(fetched.get('nested'), { a: { b: 'c' } });
  assert.equal(fetched.get('pointer').id, target.id);
  assert.equal(fetched.get('pointer').className, 'Target');
  assert.equal(fetched.get('point').latitude, 40.5);
  assert.equal(fetched.get('point').longitude, -73.25);
  assert.deepEqual(fetched.get('area').coordinates, [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]); // closed, as Parse
  assert.ok(fetched.createdAt instanceof Date);
});

test('increment, add, addUnique, remove and unset', async () => {
  const obj = await new Parse.Object('Counter').save({ n: 1, tags: ['a'] });
  obj.increment('n', 4);
  obj.addUnique('tags', 'a');
  obj.addUnique('tags', 'b');
  await obj.save();
  assert.equal(obj.get('n'), 5);
  obj.add('tags', 'c');
  obj.unset('n');
  await obj.save();
  obj.remove('tags', 'a');
  await obj.save();
  const again = await new Parse.Query('Counter').get(obj.id);
  assert.deepEqual(again.get('tags'), ['b', 'c']);
  assert.equal(again.get('n'), undefined);
});

test('destroy makes the object unfetchable with OBJECT_NOT_FOUND', async () => {
  const obj = await new Parse.Object('Doomed').save({ x: 1 });
  await obj.destroy();
  await assert.rejects(new Parse.Query('Doomed').get(obj.id), err => err.code === Parse.Error.OBJECT_NOT_FOUND);
});

test('a type change is refused with INCORRECT_TYPE', async () => {
  await new Parse.Object('Typed').save({ score: 1 });
  await assert.rejects(new Parse.Object('Typed').save({ score: 'high' }),
    err => err.code === Parse.Error.INCORRECT_TYPE);
});

test('dotted keys write inside an Object field: increment, set, unset, add at two levels', async () => {
  const obj = await new Parse.Object('NestedOps').save({ objectField: { number: 5, inner: { list: ['a'] } } });
  obj.increment('objectField.number', 10);
  obj.set('objectField.inner.label', 'deep');
  obj.add('objectField.inner.list', 'b');
  await obj.save();
  assert.equal(obj.get('objectField').number, 15);
  const fetched = await new Parse.Query('NestedOps').get(obj.id);
  assert.deepEqual(fetched.get('objectField'), { number: 15, inner: { list: ['a', 'b'], label: 'deep' } });
  fetched.unset('objectField.inner.label');
  fetched.remove('objectField.inner.list', 'a');
  await fetched.save();
  const again = await new Parse.Query('NestedOps').get(obj.id);
  assert.deepEqual(again.get('objectField'), { number: 15, inner: { list: ['b'] } });
});

test('schema rules: defaultValue fills a save, required refuses, one GeoPoint, no "length" field', async () => {
  const name = `Rules_${Math.random().toString(36).slice(2, 8)}`;
  const schema = new Parse.Schema(name);
  schema.addString('status', { defaultValue: 'open' });
  schema.addString('title', { required: true });
  schema.addGeoPoint('at');
  await schema.save();
  const saved = await new Parse.Object(name).save({ title: 'a' });
  assert.equal(saved.get('status'), 'open'); // the SDK takes the default from the answer
  await assert.rejects(new Parse.Object(name).save({ status: 'x' }),
    (err) => err.code === Parse.Error.VALIDATION_ERROR && err.message === 'title is required');
  await assert.rejects(new Parse.Object(name).save({ title: 'b', near: new Parse.GeoPoint(1, 2) }),
    (err) => err.code === Parse.Error.INCORRECT_TYPE);
  await assert.rejects(new Parse.Object(name).save({ title: 'c', length: 3 }),
    (err) => err.code === Parse.Error.INVALID_KEY_NAME);
});
