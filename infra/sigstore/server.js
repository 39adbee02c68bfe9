'use strict';
// A local Sigstore for wheelship's sandbox and tests: the Fulcio and Rekor that Sigstore's
// own authors publish as @sigstore/mock (an ephemeral CA with a CT log, and a transparency
// log), served on one loopback port, with the trust configuration sigstore-python needs to
// sign and verify against them.
//
//   node server.js PORT TRUST_CONFIG_PATH
//
// Writes TRUST_CONFIG_PATH (a ClientTrustConfig: trustedRoot + signingConfig), then prints
// one line "wheelship-sigstore ready http://127.0.0.1:PORT" on stdout. Keys live in memory
// only: a restart is a new Sigstore, and attestations signed before it no longer verify.
//
// The mock's handlers expect what sigstore-js sends; sigstore-python differs in three
// places, bridged here in the HTTP layer: the identity token comes as a bearer header (the
// mock reads it from the JSON body); the CSR comes as base64 of its PEM (the mock wants the
// PEM); and a DSSE entry must be logged in Rekor's canonical form (hashes and signatures),
// which is what sigstore-python's verifier compares the bundle with. The mock's timestamp
// authority speaks JSON, not RFC 3161, so the signing configuration names no TSA: the
// Rekor entry's integrated time is the signing time.

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const express = require('express');
const mock = require('@sigstore/mock');

const BODY_LIMIT = '2mb';

function usage() {
  process.stderr.write('usage: node server.js PORT TRUST_CONFIG_PATH\n');
  process.exit(2);
}

function keyPair() {
  return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest();
}

// The certificate's subject as the real Fulcio writes it for GitHub Actions (the URI of the
// job's workflow), else the token's `sub`; handed to the mock as one more (unchecked) claim.
const SUBJECT_CLAIM = 'wheelship_subject';

function withSubject(token) {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  claims[SUBJECT_CLAIM] =
    claims.iss === 'https://token.actions.githubusercontent.com' && claims.job_workflow_ref
      ? `https://github.com/${claims.job_workflow_ref}`
      : claims.sub;
  return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
}

// sigstore-python: `Authorization: Bearer TOKEN` and base64(PEM CSR) -> the mock's body.
function fulcioBody(req) {
  const json = JSON.parse(req.body);
  const auth = req.get('authorization') || '';
  const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
  if (token && !(json.credentials && json.credentials.oidcIdentityToken)) {
    json.credentials = { oidcIdentityToken: withSubject(token) };
  }
  const csr = json.certificateSigningRequest;
  if (typeof csr === 'string' && !csr.includes('-----BEGIN')) {
    json.certificateSigningRequest = Buffer.from(csr, 'base64').toString('utf8');
  }
  return JSON.stringify(json);
}

// A proposed dsse/0.0.1 entry, in the canonical form a real Rekor stores and returns.
function rekorBody(req) {
  const entry = JSON.parse(req.body);
  const proposed = entry && entry.kind === 'dsse' && entry.spec && entry.spec.proposedContent;
  if (!proposed) {
    return req.body;
  }
  const envelope = JSON.parse(proposed.envelope);
  const verifier = proposed.verifiers[0];
  return JSON.stringify({
    apiVersion: entry.apiVersion || '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(proposed.envelope).toString('hex') },
      payloadHash: {
        algorithm: 'sha256',
        value: sha256(Buffer.from(envelope.payload, 'base64')).toString('hex'),
      },
      signatures: envelope.signatures.map((s) => ({ signature: s.sig, verifier })),
    },
  });
}

function route(app, handler, translate) {
  app.post(handler.path, async (req, res) => {
    let body;
    try {
      body = translate(req);
    } catch (e) {
      res.status(400).type('text/plain').send(`bad request: ${e.message}\n`);
      return;
    }
    const { statusCode, response, contentType } = await handler.fn(body);
    res.status(statusCode).type(contentType || 'text/plain').send(response);
  });
}

function publicKey(spki, start) {
  return {
    rawBytes: spki.toString('base64'),
    keyDetails: 'PKIX_ECDSA_P256_SHA_256',
    validFor: { start },
  };
}

function trustConfig(url, { ca, ctlog, tlogKey }, start) {
  const tlogSpki = tlogKey.export({ format: 'der', type: 'spki' });
  const service = (extra) => ({ url, validFor: { start }, operator: 'wheelship-local', ...extra });
  return {
    mediaType: 'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json',
    trustedRoot: {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [
        {
          baseUrl: url,
          hashAlgorithm: 'SHA2_256',
          publicKey: publicKey(tlogSpki, start),
          logId: { keyId: sha256(tlogSpki).toString('base64') },
        },
      ],
      certificateAuthorities: [
        {
          subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
          uri: url,
          certChain: { certificates: [{ rawBytes: Buffer.from(ca.rootCertificate).toString('base64') }] },
          validFor: { start },
        },
      ],
      ctlogs: [
        {
          baseUrl: url,
          hashAlgorithm: 'SHA2_256',
          publicKey: publicKey(Buffer.from(ctlog.publicKey), start),
          logId: { keyId: Buffer.from(ctlog.logID).toString('base64') },
        },
      ],
      timestampAuthorities: [],
    },
    signingConfig: {
      mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
      caUrls: [service({ majorApiVersion: 1 })],
      oidcUrls: [service({ majorApiVersion: 1 })],
      rekorTlogUrls: [service({ majorApiVersion: 1 })],
      rekorTlogConfig: { selector: 'ANY' },
      tsaUrls: [],
      tsaConfig: { selector: 'ANY' },
    },
  };
}

function writeAtomically(file, text) {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(temporary, text, { mode: 0o644 });
  fs.renameSync(temporary, file);
}

async function main() {
  const [portArg, configPath] = process.argv.slice(2);
  const port = Number(portArg);
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || !configPath) {
    usage();
  }
  const url = `http://127.0.0.1:${port}`;
  const tlogKeys = keyPair();
  const ctlog = await mock.initializeCTLog(keyPair());
  const ca = await mock.initializeCA(keyPair(), ctlog);
  const tlog = await mock.initializeTLog(url, tlogKeys);

  const app = express();
  app.use(express.text({ type: () => true, limit: BODY_LIMIT }));
  app.use((req, res, next) => {
    // Method, path and status only: requests carry identity tokens, never logged.
    res.on('finish', () => process.stderr.write(`${req.method} ${req.path} ${res.statusCode}\n`));
    next();
  });
  route(app, mock.fulcioHandler(ca, { subjectClaim: SUBJECT_CLAIM }), fulcioBody);
  route(app, mock.rekorHandler(tlog), rekorBody);
  app.get('/healthz', (req, res) => res.type('text/plain').send('ok\n'));

  // A minute of slack before now, so a verifier's clock a little behind ours still agrees.
  const start = new Date(Date.now() - 60_000).toISOString();
  writeAtomically(configPath, JSON.stringify(trustConfig(url, { ca, ctlog, tlogKey: tlogKeys.publicKey }, start), null, 2));

  const server = app.listen(port, '127.0.0.1', (error) => {
    if (error) {
      process.stderr.write(`cannot listen on ${url}: ${error.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`wheelship-sigstore ready ${url}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
