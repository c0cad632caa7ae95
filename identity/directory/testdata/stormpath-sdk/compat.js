'use strict';
// Drives the official Stormpath Node.js SDK (stormpath@0.20.1) through every
// operation of Gatehouse issue 5 against a running directory, and checks
// each answer.
//
//   GATEHOUSE_SDK_BASE_URL=http://127.0.0.1:8080/v1 \
//   GATEHOUSE_SDK_KEY_ID=gk_... GATEHOUSE_SDK_KEY_SECRET=gks_... \
//   [GATEHOUSE_SDK_APPLICATION=myapp] node compat.js
//
// It prints one JSON line per check to stdout ({"check":NAME,"ok":true,...})
// and stops at the first failure with {"check":NAME,"ok":false,"error":...}
// and exit status 1. The last line is {"done":true,"checks":N}. The SDK's
// resource cache is disabled, so every read shows what the directory holds
// (the check "sdk.cacheDisabled" proves it). TestStormpathNodeSDK
// (identity/directory/sdk_compat_test.go) runs it against a fresh directory
// and requires every check by name. Variable names avoid the STORMPATH_
// prefix: the SDK's config loader reads STORMPATH_* variables itself.

var assert = require('assert');
var fs = require('fs');

function env(name, def) {
  var v = process.env[name];
  if (v === undefined || v === '') {
    if (def !== undefined) return def;
    fail('config', new Error('environment variable ' + name + ' is not set'));
  }
  return v;
}

var checks = 0;
var current = 'startup';

// emit writes one line synchronously, so that nothing is lost when the
// script exits right after it (process.stdout is asynchronous on pipes on
// some platforms).
function emit(obj) {
  fs.writeSync(1, JSON.stringify(obj) + '\n');
}

function fail(name, err) {
  var msg = err && err.stack ? err.stack : String(err);
  if (err && err.status !== undefined) {
    msg += ' [status ' + err.status + ', code ' + err.code + ', message ' + JSON.stringify(err.userMessage) + ']';
  }
  emit({ check: name, ok: false, error: msg });
  fs.writeSync(2, 'FAIL ' + name + ': ' + msg + '\n');
  process.exit(1);
}

process.on('uncaughtException', function (e) { fail(current, e); });
process.on('unhandledRejection', function (e) { fail(current, e); });

var BASE_URL = env('GATEHOUSE_SDK_BASE_URL').replace(/\/+$/, '');
var KEY_ID = env('GATEHOUSE_SDK_KEY_ID');
var KEY_SECRET = env('GATEHOUSE_SDK_KEY_SECRET');
var APP_NAME = env('GATEHOUSE_SDK_APPLICATION', 'myapp');
var STEP_TIMEOUT_MS = 20000;

var stormpath = require('stormpath');

function newClient(id, secret) {
  var c = new stormpath.Client({
    apiKey: { id: id, secret: secret },
    baseUrl: BASE_URL,
    // SAUTHC1, the SDK's default, throws inside the SDK on current Node.js.
    authenticationScheme: 'BASIC',
    // Every read goes to the directory, so the checks see its truth and not
    // the SDK's copy.
    cacheOptions: { store: 'disabled' }
  });
  c.on('error', function (e) { fail(current, e); });
  return c;
}

var client = newClient(KEY_ID, KEY_SECRET);

// call invokes an SDK method that takes a Node-style callback as its last
// argument and returns a promise of its result.
function call(obj, method) {
  var args = Array.prototype.slice.call(arguments, 2);
  if (typeof obj[method] !== 'function') {
    return Promise.reject(new Error(method + ' is not a method of ' + (obj && obj.constructor && obj.constructor.name)));
  }
  return new Promise(function (resolve, reject) {
    args.push(function (err, result) { if (err) reject(err); else resolve(result); });
    obj[method].apply(obj, args);
  });
}

// callErr is call for an operation that must fail: it resolves to the error.
function callErr(obj, method) {
  return call.apply(null, arguments).then(function (result) {
    throw new Error(method + ' succeeded, but it must fail; it answered ' + JSON.stringify(result));
  }, function (err) { return err; });
}

// check runs one named check: fn returns a promise (or a value) of details
// to report; a throw or rejection fails the run.
async function check(name, fn) {
  current = name;
  var timer;
  var timeout = new Promise(function (_, reject) {
    timer = setTimeout(function () { reject(new Error('no answer within ' + STEP_TIMEOUT_MS + ' ms')); }, STEP_TIMEOUT_MS);
  });
  var info;
  try {
    info = await Promise.race([Promise.resolve().then(fn), timeout]);
  } catch (e) {
    fail(name, e);
  } finally {
    clearTimeout(timer);
  }
  checks++;
  var line = { check: name, ok: true };
  if (info !== undefined) line.info = info;
  emit(line);
  return info;
}

function hrefUnderBase(href, what) {
  assert.strictEqual(typeof href, 'string', what + ' has no href');
  assert.ok(href.indexOf(BASE_URL + '/') === 0, what + ' href ' + href + ' does not start with ' + BASE_URL + '/');
}

function userKeys(cd) {
  var reserved = ['href', 'createdAt', 'modifiedAt'];
  return Object.keys(cd).filter(function (k) { return reserved.indexOf(k) < 0 && typeof cd[k] !== 'function'; }).sort();
}

function expectError(err, status, code) {
  assert.ok(err instanceof Error, 'expected an error, got ' + err);
  assert.strictEqual(err.status, status, 'err.status ' + err.status + ', want ' + status + ' (' + err.message + ')');
  if (code !== undefined) assert.strictEqual(err.code, code, 'err.code ' + err.code + ', want ' + code + ' (' + err.message + ')');
}

// directoryPost writes to the directory outside the SDK (plain HTTP with the
// admin key), to prove that the SDK's reads are not answered from a cache.
async function directoryPost(href, body) {
  var res = await fetch(href, {
    method: 'POST',
    headers: {
      Authorization: 'Basic ' + Buffer.from(KEY_ID + ':' + KEY_SECRET).toString('base64'),
      'Content-Type': 'application/json',
      Accept: 'application/json'
    },
    body: JSON.stringify(body)
  });
  var text = await res.text();
  assert.strictEqual(res.status, 200, 'POST ' + href + ' answered ' + res.status + ': ' + text);
  return JSON.parse(text);
}

var run = Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);
var PASSWORD = 'correct horse ' + run; // at least 12 characters
var S = {}; // state shared by the checks

function newAccountData(tag, withUsername) {
  var d = {
    givenName: 'Given' + tag,
    surname: 'Surname' + tag,
    email: tag.toLowerCase() + '.' + run + '@example.com',
    password: PASSWORD
  };
  if (withUsername) d.username = tag.toLowerCase() + '_' + run;
  return d;
}

async function main() {
  await check('sdk.version', function () {
    var v = require('stormpath/package.json').version;
    assert.strictEqual(v, '0.20.1');
    return { version: v, node: process.version };
  });

  await check('client.badKey', async function () {
    var bad = newClient(KEY_ID, KEY_SECRET + 'x');
    var err = await callErr(bad, 'getApplications', { name: APP_NAME });
    expectError(err, 401, 401);
  });

  // Tenant and application.

  await check('tenant.getApplications', async function () {
    var apps = await call(client, 'getApplications', { name: APP_NAME });
    assert.strictEqual(apps.items.length, 1, 'applications named ' + APP_NAME + ': ' + apps.items.length);
    var app = apps.items[0];
    assert.strictEqual(app.constructor.name, 'Application');
    assert.strictEqual(app.name, APP_NAME);
    hrefUnderBase(app.href, 'application');
    ['accounts', 'groups', 'loginAttempts', 'apiKeys'].forEach(function (l) {
      hrefUnderBase(app[l] && app[l].href, 'application.' + l);
    });
    S.app = app;
    return { application: app.href };
  });

  await check('tenant.getApplications.noMatch', async function () {
    var apps = await call(client, 'getApplications', { name: APP_NAME + '-absent-' + run });
    assert.strictEqual(apps.items.length, 0);
  });

  // Accounts.

  await check('account.create', async function () {
    var data = newAccountData('Main', true);
    var acc = await call(S.app, 'createAccount', Object.assign({}, data));
    assert.strictEqual(acc.constructor.name, 'Account');
    assert.strictEqual(acc._isNew, true, 'the directory did not answer 201 Created');
    hrefUnderBase(acc.href, 'account');
    assert.strictEqual(acc.username, data.username);
    assert.strictEqual(acc.email, data.email);
    assert.strictEqual(acc.givenName, data.givenName);
    assert.strictEqual(acc.surname, data.surname);
    assert.strictEqual(acc.status, 'ENABLED');
    assert.strictEqual(acc.password, undefined, 'the account answer shows the password');
    ['customData', 'apiKeys', 'groups', 'groupMemberships'].forEach(function (l) {
      hrefUnderBase(acc[l] && acc[l].href, 'account.' + l);
    });
    S.data = data;
    S.account = acc;
    return { account: acc.href };
  });

  await check('account.create.duplicateUsername', async function () {
    var d = Object.assign({}, S.data, { email: 'other.' + run + '@example.com' });
    var err = await callErr(S.app, 'createAccount', d);
    expectError(err, 409, 2001);
    return { message: err.userMessage };
  });

  await check('account.create.duplicateEmail', async function () {
    var d = Object.assign({}, S.data, { username: 'other_' + run });
    var err = await callErr(S.app, 'createAccount', d);
    expectError(err, 409, 2001);
    return { message: err.userMessage };
  });

  // Login.

  await check('login.username', async function () {
    var result = await call(S.app, 'authenticateAccount', { username: S.data.username, password: PASSWORD });
    assert.strictEqual(result.constructor.name, 'AuthenticationResult');
    assert.strictEqual(result.account.href, S.account.href);
    var acc = await call(result, 'getAccount');
    assert.strictEqual(acc.constructor.name, 'Account');
    assert.strictEqual(acc.href, S.account.href);
    assert.strictEqual(acc.username, S.data.username);
  });

  await check('login.email', async function () {
    var result = await call(S.app, 'authenticateAccount', { username: S.data.email, password: PASSWORD });
    assert.strictEqual(result.account.href, S.account.href);
    var acc = await call(result, 'getAccount');
    assert.strictEqual(acc.email, S.data.email);
  });

  function sameFailure(err, name) {
    expectError(err, 400);
    assert.ok(err.code >= 7100 && err.code < 7200, name + ': code ' + err.code + ' is not in the 7100 series');
    var f = { status: err.status, code: err.code, message: err.userMessage, developerMessage: err.developerMessage };
    if (!S.loginFailure) {
      S.loginFailure = f;
    } else {
      assert.deepStrictEqual(f, S.loginFailure, name + ' is told apart from a wrong password');
    }
    return f;
  }

  await check('login.wrongPassword', async function () {
    var err = await callErr(S.app, 'authenticateAccount', { username: S.data.username, password: PASSWORD + 'x' });
    expectError(err, 400, 7100);
    return sameFailure(err, 'a wrong password');
  });

  await check('login.unknownUser', async function () {
    var err = await callErr(S.app, 'authenticateAccount', { username: 'nobody_' + run, password: PASSWORD });
    return sameFailure(err, 'an unknown user');
  });

  await check('account.disable', async function () {
    var data = newAccountData('Disabled', true);
    var acc = await call(S.app, 'createAccount', data);
    await call(S.app, 'authenticateAccount', { username: data.username, password: PASSWORD });
    acc.status = 'DISABLED';
    var saved = await call(acc, 'save');
    assert.strictEqual(saved.status, 'DISABLED');
    var reread = await call(client, 'getAccount', acc.href);
    assert.strictEqual(reread.status, 'DISABLED');
    S.disabled = { data: data, account: reread };
  });

  await check('login.disabledAccount', async function () {
    var err = await callErr(S.app, 'authenticateAccount', { username: S.disabled.data.username, password: PASSWORD });
    return sameFailure(err, 'a disabled account');
  });

  await check('sdk.cacheDisabled', async function () {
    // Read an account through the SDK, change it behind the SDK's back, and
    // read it again: a cached copy would still show the old name.
    var href = S.disabled.account.href;
    var before = await call(client, 'getAccount', href);
    assert.strictEqual(before.givenName, S.disabled.data.givenName);
    await directoryPost(href, { givenName: 'Changed' + run });
    var after = await call(client, 'getAccount', href);
    assert.strictEqual(after.givenName, 'Changed' + run, 'the SDK answered from its cache');
  });

  // Searches.

  await check('accounts.byUsername', async function () {
    var accs = await call(S.app, 'getAccounts', { username: S.data.username });
    assert.strictEqual(accs.items.length, 1);
    assert.strictEqual(accs.items[0].constructor.name, 'Account');
    assert.strictEqual(accs.items[0].href, S.account.href);
  });

  await check('accounts.byEmail', async function () {
    var accs = await call(S.app, 'getAccounts', { email: S.data.email });
    assert.strictEqual(accs.items.length, 1);
    assert.strictEqual(accs.items[0].href, S.account.href);
  });

  await check('accounts.noMatch', async function () {
    var accs = await call(S.app, 'getAccounts', { username: 'nobody_' + run });
    assert.strictEqual(accs.items.length, 0);
    accs = await call(S.app, 'getAccounts', { email: 'nobody.' + run + '@example.com' });
    assert.strictEqual(accs.items.length, 0);
  });

  // Paging.

  var PAGE = 3;
  await check('accounts.createForPaging', async function () {
    S.paged = [];
    for (var i = 1; i <= 7; i++) {
      var data = newAccountData('Page' + i, false);
      var acc = await call(S.app, 'createAccount', data);
      assert.strictEqual(acc._isNew, true);
      // Stormpath: without a username, the username is the email.
      assert.strictEqual(acc.username, data.email);
      S.paged.push(acc.href);
    }
    return { created: S.paged.length };
  });

  await check('accounts.paging', async function () {
    var seen = [];
    var pages = 0;
    var size;
    for (var offset = 0; ; offset += PAGE) {
      var page = await call(S.app, 'getAccounts', { limit: PAGE, offset: offset });
      assert.strictEqual(page.offset, offset, 'page offset');
      assert.strictEqual(page.limit, PAGE, 'page limit');
      assert.strictEqual(typeof page.size, 'number', 'page size');
      if (size === undefined) size = page.size;
      assert.strictEqual(page.size, size, 'the size changed between pages');
      assert.ok(page.items.length <= PAGE, 'a page of ' + page.items.length + ' items, more than the limit');
      page.items.forEach(function (a) { seen.push(a.href); });
      if (page.items.length < PAGE) break;
      pages++;
      assert.ok(pages < 1000, 'paging does not end');
    }
    assert.strictEqual(new Set(seen).size, seen.length, 'an account appears on two pages');
    assert.strictEqual(seen.length, size, 'pages hold ' + seen.length + ' accounts, size says ' + size);
    assert.ok(seen.length >= 3 * PAGE, 'only ' + seen.length + ' accounts: fewer than 3 full pages');
    [S.account.href, S.disabled.account.href].concat(S.paged).forEach(function (h) {
      assert.ok(seen.indexOf(h) >= 0, h + ' is missing from the pages');
    });
    // Oldest first: the accounts made for paging come in creation order.
    var order = seen.filter(function (h) { return S.paged.indexOf(h) >= 0; });
    assert.deepStrictEqual(order, S.paged, 'the pages are not in creation order');
    S.allAccounts = seen;
    return { accounts: seen.length, fullPages: pages, limit: PAGE };
  });

  await check('accounts.paging.each', async function () {
    // The SDK's own iteration: it follows the collection href with
    // offset=previous+items and limit=100.
    var first = await call(S.app, 'getAccounts', { limit: PAGE });
    var seen = [];
    await new Promise(function (resolve, reject) {
      first.each(function (a, next) { seen.push(a.href); next(); }, function (err) { if (err) reject(err); else resolve(); });
    });
    assert.deepStrictEqual(seen, S.allAccounts);
  });

  // Groups.

  await check('group.create', async function () {
    var g = await call(S.app, 'createGroup', { name: 'admins-' + run });
    assert.strictEqual(g.constructor.name, 'Group');
    assert.strictEqual(g.name, 'admins-' + run);
    hrefUnderBase(g.href, 'group');
    S.group = g;
    return { group: g.href };
  });

  await check('group.create.duplicate', async function () {
    var err = await callErr(S.app, 'createGroup', { name: 'admins-' + run });
    expectError(err, 409, 2001);
  });

  await check('groups.list', async function () {
    var gs = await call(S.app, 'getGroups');
    var hrefs = gs.items.map(function (g) { return g.href; });
    assert.ok(hrefs.indexOf(S.group.href) >= 0, 'the new group is not listed: ' + hrefs.join(', '));
    assert.strictEqual(gs.items[hrefs.indexOf(S.group.href)].constructor.name, 'Group');
  });

  // Saving an account.

  await check('account.save', async function () {
    S.account.givenName = 'Renamed' + run;
    var saved = await call(S.account, 'save');
    assert.strictEqual(saved.givenName, 'Renamed' + run);
    assert.strictEqual(saved.surname, S.data.surname);
    S.account = saved;
  });

  await check('account.save.reread', async function () {
    var acc = await call(client, 'getAccount', S.account.href);
    assert.strictEqual(acc.givenName, 'Renamed' + run);
    assert.strictEqual(acc.surname, S.data.surname);
    assert.strictEqual(acc.username, S.data.username);
    assert.strictEqual(acc.email, S.data.email);
    assert.strictEqual(acc.status, 'ENABLED');
    var found = await call(S.app, 'getAccounts', { username: S.data.username });
    assert.strictEqual(found.items[0].givenName, 'Renamed' + run);
    // The password did not change: it still logs in.
    await call(S.app, 'authenticateAccount', { username: S.data.username, password: PASSWORD });
    S.account = acc;
  });

  // Custom data.

  await check('customData.get', async function () {
    var cd = await call(S.account, 'getCustomData');
    assert.strictEqual(cd.constructor.name, 'CustomData');
    assert.strictEqual(cd.href, S.account.customData.href);
    assert.deepStrictEqual(userKeys(cd), []);
  });

  await check('customData.save', async function () {
    var cd = await call(S.account, 'getCustomData');
    cd.color = 'blue';
    cd.size = 42;
    cd.plan = { tier: 'pro', seats: 5 };
    var saved = await call(cd, 'save');
    assert.strictEqual(saved.color, 'blue');
    var reread = await call(S.account, 'getCustomData');
    assert.deepStrictEqual(userKeys(reread), ['color', 'plan', 'size']);
    assert.strictEqual(reread.color, 'blue');
    assert.strictEqual(reread.size, 42);
    assert.deepStrictEqual(reread.plan, { tier: 'pro', seats: 5 });
  });

  await check('customData.merge', async function () {
    // Two copies read before either is saved: each save sends only what its
    // copy holds, and the directory merges, so both new members stay.
    var a = await call(S.account, 'getCustomData');
    var b = await call(S.account, 'getCustomData');
    a.theme = 'dark';
    await call(a, 'save');
    b.locale = 'fr';
    b.plan = { tier: 'team' }; // a member is replaced whole, not merged
    var saved = await call(b, 'save');
    var want = ['color', 'locale', 'plan', 'size', 'theme'];
    assert.deepStrictEqual(userKeys(saved), want, 'the save answer');
    var reread = await call(S.account, 'getCustomData');
    assert.deepStrictEqual(userKeys(reread), want);
    assert.strictEqual(reread.theme, 'dark');
    assert.strictEqual(reread.locale, 'fr');
    assert.deepStrictEqual(reread.plan, { tier: 'team' });
  });

  await check('customData.viaAccountSave', async function () {
    // account.save() sends customData {href, member} inline: it merges too.
    var acc = await call(client, 'getAccount', S.account.href);
    acc.customData.nickname = 'jo';
    await call(acc, 'save');
    var reread = await call(S.account, 'getCustomData');
    assert.strictEqual(reread.nickname, 'jo');
    assert.strictEqual(reread.color, 'blue', 'account.save dropped other custom data');
  });

  await check('customData.remove', async function () {
    var cd = await call(S.account, 'getCustomData');
    cd.remove('size');
    cd.remove('theme');
    await call(cd, 'save');
    var reread = await call(S.account, 'getCustomData');
    assert.deepStrictEqual(userKeys(reread), ['color', 'locale', 'nickname', 'plan']);
  });

  await check('customData.removeAll', async function () {
    // Removing every member sends only DELETEs (no POST follows). With the
    // SDK's cache on, the SDK would keep showing the last member
    // (protocol.md, Stormpath SDK compatibility); the directory has it gone.
    var cd = await call(S.account, 'getCustomData');
    userKeys(cd).forEach(function (k) { cd.remove(k); });
    await call(cd, 'save');
    var reread = await call(S.account, 'getCustomData');
    assert.deepStrictEqual(userKeys(reread), []);
  });

  // API keys.

  await check('apiKey.create', async function () {
    var key = await call(S.account, 'createApiKey');
    assert.strictEqual(key.constructor.name, 'ApiKey');
    assert.ok(/^gk_[0-9A-Za-z]+$/.test(key.id), 'key id ' + key.id);
    hrefUnderBase(key.href, 'apiKey');
    // The SDK decrypted the secret the directory encrypted for it.
    assert.ok(/^gks_[0-9A-Za-z]{20,}$/.test(key.secret), 'the decrypted secret does not look like a Gatehouse secret');
    assert.strictEqual(key.status, 'ENABLED');
    assert.strictEqual(key.account.href, S.account.href);
    S.key = key;
    return { id: key.id };
  });

  await check('apiKey.list', async function () {
    var keys = await call(S.account, 'getApiKeys');
    assert.strictEqual(keys.items.length, 1);
    var k = keys.items[0];
    assert.strictEqual(k.constructor.name, 'ApiKey');
    assert.strictEqual(k.id, S.key.id);
    assert.strictEqual(k.href, S.key.href);
    assert.strictEqual(k.status, 'ENABLED');
    // The documented difference: only a hash of the secret is kept, so a
    // listed key carries an (encrypted) empty secret.
    assert.strictEqual(k.secret, '');
  });

  await check('application.getApiKey', async function () {
    var k = await call(S.app, 'getApiKey', S.key.id);
    assert.strictEqual(k.id, S.key.id);
    assert.strictEqual(k.account.href, S.account.href);
    assert.strictEqual(k.secret, '');
    var err = await callErr(S.app, 'getApiKey', 'gk_absent' + run);
    expectError(err, 404);
  });

  // Memberships.

  await check('account.addToGroup', async function () {
    var gm = await call(S.account, 'addToGroup', S.group);
    assert.strictEqual(gm.constructor.name, 'GroupMembership');
    hrefUnderBase(gm.href, 'groupMembership');
    assert.strictEqual(gm.account.href, S.account.href);
    assert.strictEqual(gm.group.href, S.group.href);
  });

  await check('account.getGroups', async function () {
    var gs = await call(S.account, 'getGroups');
    assert.strictEqual(gs.items.length, 1);
    assert.strictEqual(gs.items[0].constructor.name, 'Group');
    assert.strictEqual(gs.items[0].href, S.group.href);
    var other = await call(client, 'getAccount', S.paged[0]);
    gs = await call(other, 'getGroups');
    assert.strictEqual(gs.items.length, 0, 'an account not added to the group has groups');
  });

  await check('group.getAccounts', async function () {
    var accs = await call(S.group, 'getAccounts');
    assert.deepStrictEqual(accs.items.map(function (a) { return a.href; }), [S.account.href]);
  });

  // Deletion.

  await check('account.delete', async function () {
    await call(S.account, 'delete');
    var err = await callErr(client, 'getAccount', S.account.href);
    expectError(err, 404, 404);
  });

  await check('account.delete.gone', async function () {
    var accs = await call(S.app, 'getAccounts', { username: S.data.username });
    assert.strictEqual(accs.items.length, 0);
    var gs = await call(S.group, 'getAccounts');
    assert.strictEqual(gs.items.length, 0, 'the deleted account is still a member');
    var err = await callErr(S.app, 'authenticateAccount', { username: S.data.username, password: PASSWORD });
    sameFailure(err, 'a deleted account');
  });

  current = 'done';
  emit({ done: true, checks: checks });
  process.exit(0);
}

main().catch(function (e) { fail(current, e); });
