// A stand-in identity provider for the gateway's JWKS tests: serves a JWKS on one 127.0.0.1
// port and, on another, mints tokens with npm `jose` and switches what the JWKS port does.
// Prints one JSON line {"jwks":PORT,"control":PORT} once both listen.
//   GET /token?kid=rsa-1|rsa-2|ec-1|stranger[&aud=..][&iss=..][&stores=a,b][&role=..][&exp=SECONDS]
//   GET /mode?set=both|rotated|garbage|hang|down   both: rsa-1 + ec-1; rotated: rsa-2 + ec-1;
//       garbage: a 200 that is not JSON; hang: hold requests unanswered; down: close the port
//   GET /stats -> {"served":N,"pending":N} (JWKS requests answered / held open right now)
'use strict';
const http = require('http');
const jose = require('jose');

async function main() {
  const keys = {};
  for (const [kid, alg] of [['rsa-1', 'RS256'], ['rsa-2', 'RS256'], ['ec-1', 'ES256'],
                            ['stranger', 'RS256']]) {
    const pair = await jose.generateKeyPair(alg, { extractable: true });
    const jwk = await jose.exportJWK(pair.publicKey);
    keys[kid] = { alg, privateKey: pair.privateKey, jwk: { ...jwk, kid, alg, use: 'sig' } };
  }
  let mode = 'both';
  let served = 0;
  const held = new Set();

  function jwks(kids) { return JSON.stringify({ keys: kids.map((k) => keys[k].jwk) }); }

  const jwksServer = http.createServer((req, res) => {
    if (mode === 'hang') {
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    served++;
    if (mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('<html>not a key set</html>');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(mode === 'rotated' ? jwks(['rsa-2', 'ec-1']) : jwks(['rsa-1', 'ec-1']));
  });
  let jwksPort = 0;
  const listenJwks = () => new Promise((resolve) => jwksServer.listen(jwksPort, '127.0.0.1', resolve));
  await listenJwks();
  jwksPort = jwksServer.address().port;

  const control = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const q = url.searchParams;
    try {
      if (url.pathname === '/token') {
        const key = keys[q.get('kid')];
        if (!key) throw new Error('unknown kid');
        const now = Math.floor(Date.now() / 1000);
        const claims = { sub: 'idp-user', stores: (q.get('stores') || 'buycosari').split(',') };
        if (q.get('role')) claims.role = q.get('role');
        const jwt = new jose.SignJWT(claims)
          .setProtectedHeader({ alg: key.alg, kid: q.get('kid') })
          .setIssuedAt(now)
          .setExpirationTime(now + Number(q.get('exp') || 600));
        if (q.get('aud')) jwt.setAudience(q.get('aud'));
        if (q.get('iss')) jwt.setIssuer(q.get('iss'));
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(await jwt.sign(key.privateKey));
      }
      if (url.pathname === '/mode') {
        const next = q.get('set');
        if (!['both', 'rotated', 'garbage', 'hang', 'down'].includes(next)) throw new Error('mode?');
        if (mode === 'hang') for (const r of held) r.destroy();
        if (next === 'down' && mode !== 'down') {
          await new Promise((resolve) => { jwksServer.close(resolve); jwksServer.closeAllConnections(); });
        } else if (next !== 'down' && mode === 'down') {
          await listenJwks();
        }
        mode = next;
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ mode }));
      }
      if (url.pathname === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ served, pending: held.size }));
      }
      res.writeHead(404);
      res.end('not found');
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(String(err.message));
    }
  });
  await new Promise((resolve) => control.listen(0, '127.0.0.1', resolve));
  console.log(JSON.stringify({ jwks: jwksPort, control: control.address().port }));
}

main().catch((err) => { console.error(err); process.exit(1); });
