// Reference ("anchor") Parse Server launcher: parse-server 9.x on PostgreSQL,
// FS files adapter, LiveQuery, mock push + email adapters. Config mirrors the
// Parse-SDK-JS integration-test server (integration/test/helper.js) minus Mongo.
// All settings come from env (see start.sh). Binds to 127.0.0.1 only.
'use strict';
const path = require('path');
const ANCHOR_DIR = process.env.ANCHOR_DIR || path.join(process.env.HOME || '/tmp', '.cache', 'ballast-anchors', 'parse-server');
const MODULES = path.join(__dirname, 'node_modules');  // npm ci here, from package-lock.json
const ps = require(path.join(MODULES, 'parse-server'));
const ParseServer = ps.default || ps.ParseServer;
const { TestUtils } = ps;
const FSFilesAdapter = require(path.join(MODULES, '@parse', 'fs-files-adapter'));

const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? process.env[k] : d);
const host = env('PARSE_HOST', '127.0.0.1');
const port = Number(env('PARSE_PORT', '1337'));
const mountPath = env('PARSE_MOUNT', '/parse');
const appId = env('PARSE_APP_ID', 'integration');
const serverURL = `http://${host}:${port}${mountPath}`;

// trivial custom auth provider 'myAuth' (accepts any authData), as the SDK tests expect
const myAuth = { validateAuthData: () => Promise.resolve({}), validateAppId: () => Promise.resolve({}) };
const offlineFacebook = {
  validateAuthData: authData =>
    authData && authData.id === 'test' && authData.access_token === 'test'
      ? Promise.resolve()
      : Promise.reject(new Error('offline facebook stand-in accepts only id/access_token "test"')),
  validateAppId: () => Promise.resolve(),
};
// mock adapters: no network
const emailAdapter = {
  sendVerificationEmail: () => Promise.resolve(),
  sendPasswordResetEmail: () => Promise.resolve(),
  sendMail: () => Promise.resolve(),
};
const pushAdapter = {
  getValidPushTypes: () => ['ios', 'android'],
  send: (body, installations) =>
    Promise.resolve(installations.map(i => ({ transmitted: true, device: { deviceToken: i.deviceToken, deviceType: i.deviceType } }))),
};

const config = {
  databaseURI: env('DATABASE_URI', 'postgres://postgres@127.0.0.1:5433/parse'),
  appId,
  masterKey: env('PARSE_MASTER_KEY', 'notsosecret'),
  javascriptKey: env('PARSE_JS_KEY', 'jskey'),
  restAPIKey: env('PARSE_REST_KEY', 'restkey'),
  serverURL,
  publicServerURL: serverURL,
  appName: 'anchor',
  host,
  port,
  mountPath,
  filesAdapter: new FSFilesAdapter({ filesSubDirectory: appId }),
  liveQuery: { classNames: env('LIVEQUERY_CLASSES', 'TestObject,DiffObject,LiveItem').split(',') },
  startLiveQueryServer: true,
  auth: {
    myAuth: { module: myAuth, option1: 'hello', option2: 'world' },
    // Offline stand-in for Facebook: the real adapter calls graph.facebook.com (unreachable here).
    // Accepts the SDK tests' authData {id:'test', access_token:'test'}.
    facebook: { module: offlineFacebook },
    twitter: { consumer_key: 'k', consumer_secret: 's', validateAuthData: () => {} },
  },
  push: { adapter: pushAdapter },
  emailAdapter,
  idempotencyOptions: {
    paths: ['functions/CloudFunctionIdempotency', 'jobs/CloudJob1', 'classes/IdempotentTest'],
    ttl: 120,
  },
  fileUpload: { enableForPublic: true, enableForAnonymousUser: true, enableForAuthenticatedUser: true },
  revokeSessionOnPasswordReset: false,
  allowCustomObjectId: false,
  allowClientClassCreation: true,
  verbose: false,
  silent: env('PARSE_SILENT', '1') === '1',
  logLevel: env('PARSE_LOG_LEVEL', 'error'),
  logsFolder: env('PARSE_LOGS', path.join(ANCHOR_DIR, 'run', 'logs')),
};
if (env('PARSE_CLOUD', '')) config.cloud = path.resolve(env('PARSE_CLOUD', ''));

// PARSE_CLUSTER=N (benchmarks' multi-core runs): N worker processes share the port through node's cluster module,
// as Parse Server is deployed on several cores; the primary only forks (and re-forks nothing: a benchmark run).
const cluster = require('cluster');
const workers = Number(env('PARSE_CLUSTER', '1'));
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code) => console.error(`parse-server worker ${worker.process.pid} exited (${code})`));
} else (async () => {
  const server = await ParseServer.startApp(config);
  // Test-only purge endpoint, identical to the SDK integration server's GET /clear/:fast.
  // Needs TESTING=1 (TestUtils refuses otherwise). Disable with ANCHOR_TEST_ENDPOINTS=0.
  if (env('ANCHOR_TEST_ENDPOINTS', '1') === '1' && process.env.TESTING) {
    server.expressApp.get('/clear/:fast', (req, res) => {
      // Postgres: deleteAllClasses drops _SCHEMA and volatile tables; re-run the
      // DatabaseController initialization so the server is usable again.
      TestUtils.destroyAllDataPermanently(req.params.fast !== 'false')
        .then(() => server.config.databaseController.performInitialization())
        .then(() => res.json({}))
        .catch(e => res.status(500).json({ error: String(e) }));
    });
  }
  console.log(`parse-server ${require(path.join(MODULES, 'parse-server', 'package.json')).version} listening at ${serverURL} (cloud=${config.cloud || 'none'})`);
})().catch(e => {
  console.error('failed to start', e);
  process.exit(1);
});
