// Parse.File through the official SDK: save (JSON base64 form and binary stream form), fetch, ranges, destroy.
// Runs against local disk (tests/sdk/test_sdk.py) and against S3 on moto (tests/files/test_sdk_s3.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Parse from './setup.mjs';

const appId = process.env.PARSE_APP_ID;
const NAME = /^[0-9a-f]{32}_/;

test('a base64 file saves under a random prefix and is served with its content type', async () => {
  const file = new Parse.File('hello.txt', { base64: Buffer.from('hello, files').toString('base64') }, 'text/plain');
  await file.save({ useMasterKey: true });
  assert.match(file.name(), NAME);
  assert.ok(file.name().endsWith('_hello.txt'));
  assert.equal(file.url(), `${Parse.serverURL}/files/${appId}/${file.name()}`);
  const response = await fetch(file.url());
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^text\/plain/);
  assert.equal(await response.text(), 'hello, files');
});

test('a binary file streams up and comes back byte for byte, with ranges', async () => {
  const data = randomBytes(300 * 1024 + 7);
  const file = new Parse.File('photo.jpg', data, 'image/jpeg');
  await file.save({ useMasterKey: true });
  const whole = Buffer.from(await (await fetch(file.url())).arrayBuffer());
  assert.ok(whole.equals(data));
  const part = await fetch(file.url(), { headers: { Range: 'bytes=100-199' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-199/${data.length}`);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(100, 200)));
});

test('an object keeps a file reference whose URL works', async () => {
  const file = new Parse.File('notes.txt', [104, 105], 'text/plain');
  await file.save({ useMasterKey: true });
  const doc = await new Parse.Object('FileHolder').save({ attachment: file });
  const fetched = await new Parse.Query('FileHolder').get(doc.id);
  assert.equal(fetched.get('attachment').name(), file.name());
  assert.equal(fetched.get('attachment').url(), file.url());
  assert.equal(await (await fetch(fetched.get('attachment').url())).text(), 'hi');
});

test('destroy removes the file (master key)', async () => {
  const file = new Parse.File('gone.txt', { base64: Buffer.from('bye').toString('base64') });
  await file.save({ useMasterKey: true });
  await file.destroy({ useMasterKey: true });
  const response = await fetch(`${Parse.serverURL}/files/${appId}/${file.name()}`, { redirect: 'manual' });
  assert.equal(response.status, 404);
});

test('an upload by the public is refused with FILE_SAVE_ERROR (Parse default)', async () => {
  const file = new Parse.File('public.txt', { base64: Buffer.from('x').toString('base64') });
  await assert.rejects(file.save(), err => err.code === Parse.Error.FILE_SAVE_ERROR
    && err.message === 'File upload by public is disabled.');
});

test('a beforeSaveFile trigger can refuse an upload', async () => {
  const file = new Parse.File('forbidden.txt', { base64: Buffer.from('x').toString('base64') });
  await assert.rejects(file.save({ useMasterKey: true }),
    err => err.code === Parse.Error.FILE_SAVE_ERROR && err.message === 'no forbidden files');
});
