// What mana-auth writes, Better Auth's own functions accept: a password
// hash, a signed cookie, an encrypted secret and a verification JWT made by
// our Go code (internal/tools/baformats) are checked with better-auth's
// crypto module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { verifyPassword, symmetricDecrypt, makeSignature, verifyJWT } from 'better-auth/crypto';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '.bin', 'baformats');
const v = JSON.parse(execFileSync(bin, { encoding: 'utf8' }));

test('Better Auth verifies our password hash (NFKC, scrypt salt string)', async () => {
  assert.match(v.hash, /^[0-9a-f]{32}:[0-9a-f]{128}$/);
  assert.equal(await verifyPassword({ hash: v.hash, password: v.password }), true);
  assert.equal(await verifyPassword({ hash: v.hash, password: v.password + 'x' }), false);
});

test('our signed cookie equals Better Auth signing the same token', async () => {
  const expected = encodeURIComponent(`${v.token}.${await makeSignature(v.token, v.secret)}`);
  assert.equal(v.cookieValue, expected);
});

test('Better Auth decrypts our encrypted secret', async () => {
  assert.equal(await symmetricDecrypt({ key: v.secret, data: v.ciphertext }), v.plaintext);
});

test('Better Auth verifies our email-verification JWT', async () => {
  const payload = await verifyJWT(v.jwt, v.secret);
  assert.ok(payload, 'token rejected');
  assert.equal(payload.email, 'f@example.com');
  assert.equal(payload.userId, 'u1');
  assert.equal(await verifyJWT(v.jwt, v.secret + 'x'), null);
});
