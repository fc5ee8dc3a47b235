// A real OpenID Connect provider for the tests (Node's oidc-provider), on 127.0.0.1 over
// HTTPS with the certificate the test made. Accounts are fixed; devInteractions provides the
// login and consent pages. GET /test/clock?shift=SECONDS moves the clock of the token endpoint
// back by SECONDS (0 = real time), so that it issues ID tokens that have already expired.
import fs from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const [port, redirectUri, postLogoutUri, certFile, keyFile] = process.argv.slice(2);
const issuer = `https://127.0.0.1:${port}`;

const accounts = {
  'dana@acme.example': { email: 'dana@acme.example', email_verified: true, groups: ['scanpulse-admins'] },
  'erin@acme.example': { email: 'erin@acme.example', email_verified: true, groups: [] },
  'frank@acme.example': { email: 'frank@acme.example', email_verified: true, groups: [] },
  'carol@acme.example': { email: 'carol@acme.example', email_verified: true, groups: [] },
  'mallory@acme.example': { email: 'mallory@acme.example', email_verified: false, groups: [] },
  'oscar@elsewhere.example': { email: 'oscar@elsewhere.example', email_verified: true, groups: [] },
};

let shift = 0;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'scanpulse',
    client_secret: 'provider-test-client-secret',
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutUri],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  pkce: { required: () => true, methods: ['S256'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ['provider-test-cookie-key'] },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
});

provider.use(async (ctx, next) => {
  if (ctx.path === '/test/clock') {
    shift = Number(ctx.query.shift || 0);
    ctx.body = { shift };
    return;
  }
  if (ctx.path === '/token' && shift) {
    const realNow = Date.now;
    Date.now = () => realNow() - shift * 1000;
    try { await next(); } finally { Date.now = realNow; }
    return;
  }
  await next();
});

const server = https.createServer(
  { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) },
  provider.callback(),
);
server.listen(Number(port), '127.0.0.1', () => console.log(`listening ${issuer}`));
