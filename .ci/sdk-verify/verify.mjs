// Checks the Shopify and eBay mocks' sample deliveries with the platforms' official Node libraries
// (.ci/sdk-verify/run), and that a tampered copy of each is refused:
// - Shopify: `shopify.webhooks.validate` of @shopify/shopify-api (web-api adapter: a fetch
//   Request carries the delivery's headers and raw body);
// - eBay: `validateSignature` of event-notification-nodejs-sdk (the function its `process`
//   calls; `process` itself answers 500 for any topic it has no processor for, ORDER_CONFIRMATION
//   among them), and its `validateEndpoint` against the challenge answer the mock accepts.
// eBay's SDK reads its app token and the public key from api.ebay.com over https, with no
// setting for another host. Without touching the SDK, this process routes Node's global HTTPS
// agent to a local TLS server on 127.0.0.1 (a throwaway certificate for api.ebay.com that only
// this agent trusts), which serves an app token and the mock's public key (only with that
// token), as the mock's Notification API does.
// Usage: node verify.mjs SAMPLES.json CERT.pem KEY.pem
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import '@shopify/shopify-api/adapters/web-api';
import { shopifyApi, LogSeverity } from '@shopify/shopify-api';

const require = createRequire(import.meta.url);
const [samplesPath, certPath, keyPath] = process.argv.slice(2);
const samples = JSON.parse(fs.readFileSync(samplesPath, 'utf8'));
const results = [];
const check = (name, got, wanted) => results.push({ name, ok: got === wanted, got });

async function shopify() {
  const sample = samples.shopify;
  const api = shopifyApi({
    apiKey: 'sdk-verify',
    apiSecretKey: sample.secret,
    hostName: '127.0.0.1',
    // The version the mock speaks (the library only checks that it knows it).
    apiVersion: sample.headers['X-Shopify-API-Version'],
    isEmbeddedApp: false,
    logger: { level: LogSeverity.Error },
  });
  const validate = async (body) => {
    const rawRequest = new Request(sample.url, { method: 'POST', headers: sample.headers, body });
    return (await api.webhooks.validate({ rawBody: body, rawRequest })).valid;
  };
  const tampered = sample.body.replace('"quantity":2', '"quantity":1');
  check("shopify: the mock's delivery verifies (@shopify/shopify-api)", await validate(sample.body), true);
  check('shopify: a tampered delivery is refused (@shopify/shopify-api)', tampered !== sample.body && (await validate(tampered)), false);
}

const APP_TOKEN = 'sdk-verify-app-token';

function ebayApi(sample) {
  const server = https.createServer(
    { cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) },
    (request, response) => {
      const reply = (status, body) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (request.method === 'POST' && request.url === '/identity/v1/oauth2/token') {
        return reply(200, { access_token: APP_TOKEN, expires_in: 7200, token_type: 'Application Access Token' });
      }
      const wanted = `/commerce/notification/v1/public_key/${sample.kid}`;
      const token = (request.headers.authorization || '').replace(/^bearer /i, '');
      if (request.method === 'GET' && request.url === wanted && token === APP_TOKEN) {
        return reply(200, sample.public_key);
      }
      return reply(404, { errors: [{ errorId: 195000, message: 'not found' }] });
    },
  );
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function ebay() {
  const sample = samples.ebay;
  const server = await ebayApi(sample);
  const port = server.address().port;
  class ToLocal extends https.Agent {
    createConnection(options, callback) {
      return super.createConnection({ ...options, host: '127.0.0.1', port, servername: 'api.ebay.com' }, callback);
    }
  }
  https.globalAgent = new ToLocal({ ca: fs.readFileSync(certPath), keepAlive: false });
  const validator = require('event-notification-nodejs-sdk/lib/validator');
  const sdk = require('event-notification-nodejs-sdk');
  const config = { clientId: 'sdk-verify-client', clientSecret: 'sdk-verify-secret', environment: 'PRODUCTION' };
  const signature = sample.headers['X-EBAY-SIGNATURE'];
  const message = JSON.parse(sample.body);
  const tampered = JSON.parse(sample.body);
  tampered.notification.data.orderId = `${tampered.notification.data.orderId}9`;
  try {
    check("ebay: the mock's delivery verifies (event-notification-nodejs-sdk)", await validator.validateSignature(message, signature, config), true);
    check('ebay: a tampered delivery is refused (event-notification-nodejs-sdk)', await validator.validateSignature(tampered, signature, config), false);
    const challenge = sample.challenge;
    const answer = sdk.validateEndpoint(challenge.challenge_code, { endpoint: challenge.endpoint, verificationToken: challenge.verification_token });
    check("ebay: the SDK answers the mock's challenge as the mock expects", answer, challenge.expected_response);
    const wrong = sdk.validateEndpoint(challenge.challenge_code, { endpoint: challenge.endpoint, verificationToken: 'another-token' });
    check('ebay: another verification token gives another answer', wrong === challenge.expected_response, false);
  } finally {
    server.close();
  }
}

try {
  await shopify();
  await ebay();
} catch (error) {
  results.push({ name: `the verifiers ran without error: ${error.stack || error}`, ok: false });
}
for (const { name, ok } of results) console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
process.exit(results.every(({ ok }) => ok) ? 0 : 1);
