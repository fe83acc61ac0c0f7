// Users, sessions, roles, ACL and CLP as the official Parse JS SDK sees them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Parse from './setup.mjs';

Parse.User.enableUnsafeCurrentUser();
const unique = (name) => `${name}_${Math.random().toString(36).slice(2, 8)}`;

async function newUser(name) {
  const user = new Parse.User();
  user.set({ username: unique(name), password: `pw-${name}`, email: `${unique(name)}@example.com` });
  await user.signUp();
  return user;
}

test('signUp, current user, logOut, logIn and become', async () => {
  const username = unique('alice');
  const user = await Parse.User.signUp(username, 'alice-pw', { email: `${username}@example.com` });
  assert.ok(user.getSessionToken().startsWith('r:'));
  assert.equal(Parse.User.current().id, user.id);
  const token = user.getSessionToken();
  await Parse.User.logOut();
  assert.equal(Parse.User.current(), null);
  await assert.rejects(Parse.User.become(token), (err) => err.code === Parse.Error.INVALID_SESSION_TOKEN);
  const again = await Parse.User.logIn(username, 'alice-pw');
  assert.equal(again.id, user.id);
  assert.equal(again.get('email'), `${username}@example.com`);
  const became = await Parse.User.become(again.getSessionToken());
  assert.equal(became.getUsername(), username);
  await assert.rejects(Parse.User.logIn(username, 'wrong'), (err) => err.code === Parse.Error.OBJECT_NOT_FOUND);
  await Parse.User.logOut();
});

test('username and email collisions are 202 and 203', async () => {
  const first = await newUser('dup');
  const clash = new Parse.User();
  clash.set({ username: first.getUsername().toUpperCase(), password: 'x' });
  await assert.rejects(clash.signUp(), (err) => err.code === Parse.Error.USERNAME_TAKEN);
  const mail = new Parse.User();
  mail.set({ username: unique('other'), password: 'x', email: first.get('email') });
  await assert.rejects(mail.signUp(), (err) => err.code === Parse.Error.EMAIL_TAKEN);
  await Parse.User.logOut();
});

test('requestPasswordReset resolves, for known and unknown emails alike', async () => {
  const user = await newUser('reset');
  await Parse.User.logOut();
  await Parse.User.requestPasswordReset(user.get('email'));
  await Parse.User.requestPasswordReset('nobody-here@example.com');
});

test('an ACL-protected object is invisible and unwritable to another user', async () => {
  const owner = await newUser('owner');
  const ownerToken = owner.getSessionToken();
  const secret = new Parse.Object('Diary');
  secret.set('text', 'dear diary');
  secret.setACL(new Parse.ACL(owner));
  await secret.save(null, { sessionToken: ownerToken });
  const intruder = await newUser('intruder');
  const intruderToken = intruder.getSessionToken();
  const found = await new Parse.Query('Diary').find({ sessionToken: intruderToken });
  assert.equal(found.length, 0);
  assert.equal(await new Parse.Query('Diary').count({ sessionToken: intruderToken }), 0);
  await assert.rejects(new Parse.Query('Diary').get(secret.id, { sessionToken: intruderToken }),
    (err) => err.code === Parse.Error.OBJECT_NOT_FOUND);
  const copy = Parse.Object.fromJSON({ className: 'Diary', objectId: secret.id });
  copy.set('text', 'hacked');
  await assert.rejects(copy.save(null, { sessionToken: intruderToken }),
    (err) => err.code === Parse.Error.OBJECT_NOT_FOUND);
  const mine = await new Parse.Query('Diary').get(secret.id, { sessionToken: ownerToken });
  assert.equal(mine.get('text'), 'dear diary');
  await Parse.User.logOut();
});

test('roles in ACLs, with the hierarchy: a child role member inherits the parent role', async () => {
  const admin = await newUser('admin');
  const junior = await newUser('junior');
  const outsider = await newUser('outsider');
  const roleACL = new Parse.ACL();
  roleACL.setPublicReadAccess(true);
  const staff = new Parse.Role(unique('Staff'), roleACL);
  staff.getUsers().add(admin);
  await staff.save(null, { useMasterKey: true });
  const juniors = new Parse.Role(unique('Juniors'), roleACL);
  juniors.getUsers().add(junior);
  await juniors.save(null, { useMasterKey: true });
  staff.getRoles().add(juniors);
  await staff.save(null, { useMasterKey: true });
  const memo = new Parse.Object('Memo');
  const acl = new Parse.ACL();
  acl.setRoleReadAccess(staff, true);
  memo.setACL(acl);
  await memo.save({ body: 'staff only' }, { useMasterKey: true });
  for (const [user, expected] of [[admin, 1], [junior, 1], [outsider, 0]]) {
    const token = (await Parse.User.logIn(user.getUsername(), `pw-${user.getUsername().split('_')[0]}`))
      .getSessionToken();
    const seen = await new Parse.Query('Memo').equalTo('objectId', memo.id).find({ sessionToken: token });
    assert.equal(seen.length, expected, `${user.getUsername()} should see ${expected}`);
  }
  await Parse.User.logOut();
});

test('class-level permissions block find and create', async () => {
  const className = unique('Locked');
  const schema = new Parse.Schema(className);
  schema.addString('title');
  schema.setCLP({
    find: { requiresAuthentication: true }, get: { requiresAuthentication: true },
    count: { requiresAuthentication: true }, create: {}, update: {}, delete: {}, addField: {},
  });
  await schema.save();
  await new Parse.Object(className).save({ title: 'by master' }, { useMasterKey: true });
  await Parse.User.logOut();
  await assert.rejects(new Parse.Query(className).find(), (err) => err.code === Parse.Error.OBJECT_NOT_FOUND);
  const user = await newUser('clp');
  const rows = await new Parse.Query(className).find({ sessionToken: user.getSessionToken() });
  assert.equal(rows.length, 1);
  await assert.rejects(new Parse.Object(className).save({ title: 'mine' }, { sessionToken: user.getSessionToken() }),
    (err) => err.code === Parse.Error.OPERATION_FORBIDDEN);
  await Parse.User.logOut();
});

test('protected fields are hidden from others, shown to the owner field', async () => {
  const className = unique('Profile');
  const schema = new Parse.Schema(className);
  schema.addString('nickname').addString('phone').addPointer('owner', '_User');
  schema.setCLP({
    find: { '*': true }, get: { '*': true }, count: { '*': true }, create: { '*': true },
    update: { '*': true }, delete: { '*': true }, addField: {},
    protectedFields: { '*': ['phone'], 'userField:owner': [] },
  });
  await schema.save();
  const owner = await newUser('profiled');
  const other = await newUser('viewer');
  const profile = new Parse.Object(className);
  await profile.save({ nickname: 'p', phone: '555-0100', owner }, { useMasterKey: true });
  const seenByOther = await new Parse.Query(className).get(profile.id, { sessionToken: other.getSessionToken() });
  assert.equal(seenByOther.get('phone'), undefined);
  assert.equal(seenByOther.get('nickname'), 'p');
  const seenByOwner = await new Parse.Query(className).get(profile.id, { sessionToken: owner.getSessionToken() });
  assert.equal(seenByOwner.get('phone'), '555-0100');
  // Parse 9: users are private; one that makes itself readable still never shows its email to others
  await assert.rejects(new Parse.Query(Parse.User).get(owner.id, { sessionToken: other.getSessionToken() }),
    (err) => err.code === Parse.Error.OBJECT_NOT_FOUND);
  const acl = new Parse.ACL(owner);
  acl.setPublicReadAccess(true);
  await owner.save({ ACL: acl }, { sessionToken: owner.getSessionToken() });
  const otherUser = await new Parse.Query(Parse.User).get(owner.id, { sessionToken: other.getSessionToken() });
  assert.equal(otherUser.get('email'), undefined);
  await Parse.User.logOut();
});

test('sessions: the current session and revoking it', async () => {
  const user = await newUser('sessions');
  const session = await Parse.Session.current();
  assert.equal(session.getSessionToken(), user.getSessionToken());
  const mine = await new Parse.Query(Parse.Session).find({ sessionToken: user.getSessionToken() });
  assert.equal(mine.length, 1);
  await Parse.User.logOut();
  await assert.rejects(Parse.User.become(user.getSessionToken()),
    (err) => err.code === Parse.Error.INVALID_SESSION_TOKEN);
});

test('User.current().fetch() keeps the session (Parse answers a get of oneself with its token)', async () => {
  const user = await newUser('fetcher');
  const token = user.getSessionToken();
  const fetched = await Parse.User.current().fetch();
  assert.equal(fetched.getSessionToken(), token);
  assert.equal(Parse.User.current().getSessionToken(), token);
  const diary = await new Parse.Object('FetchDiary').save({ text: 'mine' }); // sent as the current user
  assert.equal(await new Parse.Query('FetchDiary').count({ sessionToken: token }), 1);
  assert.ok(diary.id);
  await Parse.User.logOut();
});

test('anonymous log-in, then sign-up turns it into a real user without authData.anonymous', async () => {
  const anon = await Parse.AnonymousUtils.logIn();
  assert.ok(anon.getUsername(), 'Parse answers an anonymous sign-up with a generated username');
  assert.ok(Parse.AnonymousUtils.isLinked(anon));
  const username = unique('formerly_anon');
  anon.setUsername(username);
  anon.setPassword('real-pw');
  await anon.signUp();
  const fetched = await Parse.User.current().fetch();
  assert.equal(fetched.getUsername(), username);
  assert.equal(Parse.AnonymousUtils.isLinked(fetched), false);
  assert.equal(fetched.get('authData'), undefined);
  await Parse.User.logOut();
  const again = await Parse.User.logIn(username, 'real-pw');
  assert.equal(again.id, anon.id);
  await Parse.User.logOut();
});

test('write-only ACL lets anyone update and delete; another user is off limits with 206', async () => {
  const acl = new Parse.ACL();
  acl.setPublicWriteAccess(true);
  const box = await new Parse.Object('DropBox').save({ n: 1 }, { useMasterKey: true });
  box.setACL(acl);
  await box.save(null, { useMasterKey: true });
  const blind = Parse.Object.fromJSON({ className: 'DropBox', objectId: box.id });
  blind.set('n', 2);
  await blind.save();
  await blind.destroy();
  await assert.rejects(new Parse.Query('DropBox').get(box.id, { useMasterKey: true }),
    (err) => err.code === Parse.Error.OBJECT_NOT_FOUND);
  const victim = await newUser('victim');
  await Parse.User.logOut();
  const attacker = await newUser('attacker');
  const copy = Parse.Object.fromJSON({ className: '_User', objectId: victim.id });
  copy.set('username', unique('pwned'));
  await assert.rejects(copy.save(null, { sessionToken: attacker.getSessionToken() }),
    (err) => err.code === Parse.Error.SESSION_MISSING);
  await assert.rejects(copy.destroy({ sessionToken: attacker.getSessionToken() }),
    (err) => err.code === Parse.Error.SESSION_MISSING);
  await Parse.User.logOut();
});

test('verifyPassword, Analytics.track and a push without an adapter answer as Parse', async () => {
  const user = await newUser('verifier');
  const username = user.getUsername();
  await Parse.User.logOut();
  const verified = await Parse.User.verifyPassword(username, 'pw-verifier');
  assert.equal(verified.objectId, user.id); // the SDK hands back the JSON as Parse answers it
  assert.equal(verified.sessionToken, undefined);
  await assert.rejects(Parse.User.verifyPassword(username, 'wrong'),
    (err) => err.code === Parse.Error.OBJECT_NOT_FOUND);
  await Parse.Analytics.track('search', { kind: 'sdk' });
  await assert.rejects(Parse.Push.send({ where: new Parse.Query(Parse.Installation), data: { alert: 'x' } },
    { useMasterKey: true }), (err) => err.code === Parse.Error.PUSH_MISCONFIGURED);
});
