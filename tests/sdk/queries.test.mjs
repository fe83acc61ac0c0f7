// Parse.Query with every constraint the SDK offers, against Ballast; each test asserts what the SDK returns.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import Parse from './setup.mjs';

const names = list => list.map(obj => obj.get('name')).sort();
const q = () => new Parse.Query('Item');
let items;
let owners;

before(async () => {
  owners = await Parse.Object.saveAll([
    new Parse.Object('Owner', { label: 'ann', rank: 1, city: 'Oslo' }),
    new Parse.Object('Owner', { label: 'bob', rank: 2, city: 'Rome' }),
  ]);
  const base = [
    { name: 'a', n: 1, s: 'apple pie', tags: ['x', 'y'], when: new Date('2024-01-01T00:00:00Z'),
      o: { x: 1, y: { z: 'deep' } }, owner: owners[0], point: new Parse.GeoPoint(0, 0), flag: true },
    { name: 'b', n: 2, s: 'Banana split', tags: ['y'], when: new Date('2024-06-01T00:00:00Z'),
      o: { x: 2, y: { z: 'other' } }, owner: owners[1], point: new Parse.GeoPoint(1, 1), flag: false },
    { name: 'c', n: 3, s: 'cherry (pie).', tags: ['z', 'x', 'y'], when: new Date('2025-01-01T00:00:00Z'),
      o: { x: 3 }, owner: owners[0], point: new Parse.GeoPoint(10, 10) },
    { name: 'd', n: 3, s: 'date', tags: [], o: {} },
  ];
  items = await Parse.Object.saveAll(base.map(fields => new Parse.Object('Item', fields)));
});

test('comparisons on numbers, strings and dates', async () => {
  assert.deepEqual(names(await q().equalTo('n', 3).find()), ['c', 'd']);
  assert.deepEqual(names(await q().notEqualTo('n', 3).find()), ['a', 'b']);
  assert.deepEqual(names(await q().lessThan('n', 2).find()), ['a']);
  assert.deepEqual(names(await q().lessThanOrEqualTo('n', 2).find()), ['a', 'b']);
  assert.deepEqual(names(await q().greaterThan('n', 2).find()), ['c', 'd']);
  assert.deepEqual(names(await q().greaterThanOrEqualTo('s', 'b').find()), ['c', 'd']);
  assert.deepEqual(names(await q().greaterThan('when', new Date('2024-03-01T00:00:00Z')).find()), ['b', 'c']);
  assert.deepEqual(names(await q().equalTo('flag', false).find()), ['b']);
});

test('containedIn, notContainedIn, exists, doesNotExist', async () => {
  assert.deepEqual(names(await q().containedIn('name', ['a', 'c', 'zz']).find()), ['a', 'c']);
  assert.deepEqual(names(await q().notContainedIn('n', [1, 2]).find()), ['c', 'd']);
  assert.deepEqual(names(await q().exists('when').find()), ['a', 'b', 'c']);
  assert.deepEqual(names(await q().doesNotExist('flag').find()), ['c', 'd']);
  assert.deepEqual(names(await q().doesNotExist('nothing').find()), ['a', 'b', 'c', 'd']);
});

test('arrays: equalTo element, containsAll, containedBy, containedIn', async () => {
  assert.deepEqual(names(await q().equalTo('tags', 'x').find()), ['a', 'c']);
  assert.deepEqual(names(await q().containsAll('tags', ['x', 'y']).find()), ['a', 'c']);
  assert.deepEqual(names(await q().containedBy('tags', ['x', 'y']).find()), ['a', 'b', 'd']);
  assert.deepEqual(names(await q().containedIn('tags', ['z']).find()), ['c']);
});

test('strings: matches, startsWith, endsWith, contains with special characters', async () => {
  assert.deepEqual(names(await q().matches('s', '^b', 'i').find()), ['b']);
  assert.deepEqual(names(await q().matches('s', 'PIE', 'i').find()), ['a', 'c']);
  assert.deepEqual(names(await q().startsWith('s', 'cherry (').find()), ['c']);
  assert.deepEqual(names(await q().endsWith('s', '(pie).').find()), ['c']);
  assert.deepEqual(names(await q().endsWith('s', 'pie').find()), ['a']);
  assert.deepEqual(names(await q().contains('s', 'a s').find()), ['b']);
  assert.deepEqual(names(await q().contains('s', '.').find()), ['c']);
});

test('fullText finds whole words, case-insensitively', async () => {
  assert.deepEqual(names(await q().fullText('s', 'PIE').find()), ['a', 'c']);
  assert.deepEqual(names(await q().fullText('s', 'apple pie').find()), ['a']);
  assert.deepEqual(names(await q().fullText('s', 'pi').find()), []);
});

test('dotted keys into Object fields', async () => {
  assert.deepEqual(names(await q().equalTo('o.x', 2).find()), ['b']);
  assert.deepEqual(names(await q().greaterThanOrEqualTo('o.x', 2).find()), ['b', 'c']);
  assert.deepEqual(names(await q().equalTo('o.y.z', 'deep').find()), ['a']);
  assert.deepEqual(names(await q().doesNotExist('o.x').find()), ['d']);
});

test('pointers: equalTo, matchesQuery, doesNotMatchQuery, matchesKeyInQuery, doesNotMatchKeyInQuery', async () => {
  assert.deepEqual(names(await q().equalTo('owner', owners[0]).find()), ['a', 'c']);
  const bob = new Parse.Query('Owner').equalTo('label', 'bob');
  assert.deepEqual(names(await q().matchesQuery('owner', bob).find()), ['b']);
  assert.deepEqual(names(await q().doesNotMatchQuery('owner', bob).find()), ['a', 'c', 'd']);
  const ranks = new Parse.Query('Owner').greaterThan('rank', 1);
  assert.deepEqual(names(await q().matchesKeyInQuery('n', 'rank', ranks).find()), ['b']);
  assert.deepEqual(names(await q().doesNotMatchKeyInQuery('n', 'rank', ranks).find()), ['a', 'c', 'd']);
});

test('relation.add then relation.query()', async () => {
  const shelf = new Parse.Object('Shelf', { label: 'top' });
  shelf.relation('holds').add([items[0], items[2]]);
  await shelf.save();
  const held = await shelf.relation('holds').query().ascending('name').find();
  assert.deepEqual(held.map(obj => obj.get('name')), ['a', 'c']);
  assert.equal(held[0].className, 'Item');
  const narrowed = await shelf.relation('holds').query().equalTo('n', 3).find();
  assert.deepEqual(names(narrowed), ['c']);
  const holding = await new Parse.Query('Shelf').equalTo('holds', items[2]).find();
  assert.deepEqual(holding.map(found => found.id), [shelf.id]);
  assert.equal((await new Parse.Query('Shelf').equalTo('holds', items[1]).find()).length, 0);
  const viaQuery = await new Parse.Query('Shelf').matchesQuery('holds', q().equalTo('name', 'c')).find();
  assert.deepEqual(viaQuery.map(found => found.id), [shelf.id]);
  const notVia = await new Parse.Query('Shelf').doesNotMatchQuery('holds', q().equalTo('name', 'a')).find();
  assert.equal(notVia.length, 0);
});

test('Parse.Query.or, and, nor', async () => {
  const low = q().lessThan('n', 2);
  const tagged = q().equalTo('tags', 'z');
  assert.deepEqual(names(await Parse.Query.or(low, tagged).find()), ['a', 'c']);
  assert.deepEqual(names(await Parse.Query.and(q().equalTo('tags', 'x'), q().greaterThan('n', 1)).find()), ['c']);
  assert.deepEqual(names(await Parse.Query.nor(low, tagged).find()), ['b', 'd']);
});

test('geo: near orders by distance; withinKilometers, withinGeoBox, withinPolygon, polygonContains', async () => {
  const origin = new Parse.GeoPoint(0, 0);
  const near = await q().near('point', new Parse.GeoPoint(9, 9)).find();
  assert.deepEqual(near.map(obj => obj.get('name')), ['c', 'b', 'a']);
  assert.deepEqual(names(await q().withinKilometers('point', origin, 200).find()), ['a', 'b']);
  assert.deepEqual(names(await q().withinMiles('point', origin, 10).find()), ['a']);
  const box = await q().withinGeoBox('point', new Parse.GeoPoint(0.5, 0.5), new Parse.GeoPoint(20, 20)).find();
  assert.deepEqual(names(box), ['b', 'c']);
  const triangle = [new Parse.GeoPoint(-1, -1), new Parse.GeoPoint(-1, 5), new Parse.GeoPoint(5, -1)];
  assert.deepEqual(names(await q().withinPolygon('point', triangle).find()), ['a', 'b']);
  await new Parse.Object('Zone', { name: 'sq', area: new Parse.Polygon([[0, 0], [0, 2], [2, 2], [2, 0]]) }).save();
  const zones = await new Parse.Query('Zone').polygonContains('area', new Parse.GeoPoint(1, 1)).find();
  assert.deepEqual(zones.map(zone => zone.get('name')), ['sq']);
  const none = await new Parse.Query('Zone').polygonContains('area', new Parse.GeoPoint(3, 1)).find();
  assert.equal(none.length, 0);
});

test('ascending, descending, addDescending, limit, skip', async () => {
  const byN = await q().descending('n').addAscending('name').find();
  assert.deepEqual(byN.map(obj => obj.get('name')), ['c', 'd', 'b', 'a']);
  const byTwo = await q().ascending('n').addDescending('name').find();
  assert.deepEqual(byTwo.map(obj => obj.get('name')), ['a', 'b', 'd', 'c']);
  const page = await q().ascending('name').skip(1).limit(2).find();
  assert.deepEqual(page.map(obj => obj.get('name')), ['b', 'c']);
});

test('select and exclude, dotted too', async () => {
  const [picked] = await q().equalTo('name', 'a').select('name', 'o.y').find();
  assert.equal(picked.get('name'), 'a');
  assert.equal(picked.get('n'), undefined);
  assert.deepEqual(picked.get('o'), { y: { z: 'deep' } });
  assert.ok(picked.createdAt instanceof Date);
  const [trimmed] = await q().equalTo('name', 'a').exclude('s', 'o.x').find();
  assert.equal(trimmed.get('s'), undefined);
  assert.equal(trimmed.get('n'), 1);
  assert.deepEqual(trimmed.get('o'), { y: { z: 'deep' } });
});

test('include: a pointer, nested, arrays of pointers, and *', async () => {
  const city = await new Parse.Object('City', { title: 'Oslo' }).save();
  const leader = await new Parse.Object('Leader', { label: 'cat', home: city }).save();
  const team = await new Parse.Object('Team', { lead: leader, members: [owners[0], owners[1]] }).save();
  const [plain] = await new Parse.Query('Team').equalTo('objectId', team.id).find();
  assert.equal(plain.get('lead').get('label'), undefined);
  const [withLead] = await new Parse.Query('Team').include('lead.home').find();
  assert.equal(withLead.get('lead').get('label'), 'cat');
  assert.equal(withLead.get('lead').get('home').get('title'), 'Oslo');
  const [withMembers] = await new Parse.Query('Team').include('members').find();
  assert.deepEqual(withMembers.get('members').map(owner => owner.get('label')), ['ann', 'bob']);
  const [all] = await new Parse.Query('Team').include('*').find();
  assert.equal(all.get('lead').get('label'), 'cat');
  assert.deepEqual(all.get('members').map(owner => owner.get('label')), ['ann', 'bob']);
  const [fromItem] = await q().equalTo('name', 'b').include('owner').find();
  assert.equal(fromItem.get('owner').get('city'), 'Rome');
});

test('count, first, each', async () => {
  assert.equal(await q().greaterThan('n', 1).count(), 3);
  assert.equal(await q().equalTo('n', 42).count(), 0);
  const first = await q().ascending('n').first();
  assert.equal(first.get('name'), 'a');
  assert.equal(await q().equalTo('n', 42).first(), undefined);
  const seen = [];
  await q().each(obj => { seen.push(obj.get('name')); }, { batchSize: 2 });
  assert.deepEqual(seen.sort(), ['a', 'b', 'c', 'd']);
});

test('a bad query is a Parse error, not a crash', async () => {
  await assert.rejects(q().matches('s', '(unclosed').find(), err => err.code === Parse.Error.INVALID_QUERY);
  await assert.rejects(
    new Parse.Query('Item')._addCondition('n', '$bogus', 1).find(),
    err => err.code === Parse.Error.INVALID_QUERY,
  );
});

test('relation queries, unsaved owners, swapped box corners and stored date names answer as Parse', async () => {
  const place = await new Parse.Object('RelPlace').save({ name: 'p', at: new Parse.GeoPoint(10, 10) });
  const owner = new Parse.Object('RelOwner');
  owner.relation('places').add(place);
  await owner.save();
  const related = await owner.relation('places').query().find();
  assert.deepEqual(related.map((obj) => [obj.className, obj.id]), [['RelPlace', place.id]]);
  const unsaved = new Parse.Object('RelOwner');
  assert.deepEqual(await unsaved.relation('places').query().find(), []);
  const boxed = await new Parse.Query('RelPlace')
    .withinGeoBox('at', new Parse.GeoPoint(20, 20), new Parse.GeoPoint(0, 0)).find();
  assert.deepEqual(boxed.map((obj) => obj.id), [place.id]);
  const ordered = await new Parse.Query('RelPlace').ascending('_created_at').find();
  assert.equal(ordered[0].id, place.id);
  await assert.rejects(new Parse.Query('NoSuchClassAtAll').matches('name', 'a', 'q').find(),
    (err) => err.code === Parse.Error.INVALID_QUERY);
});
