// Two-factor plugin through twoFactorClient: TOTP codes come from an
// independent RFC 6238 implementation below (node:crypto only), not from
// the server or the client library.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { twoFactorClient } from 'better-auth/client/plugins';

import {
    STRONG, assertClientError, jarOf, makeClient, ok, signUpNew, startStack,
} from './lib/harness.mjs';

const COOKIE = 'mana.session_token';
const TWO_FACTOR = 'mana.two_factor';
const TRUST = 'mana.trust_device';
const PERIOD = 30;

let stack;

before(async () => {
    stack = await startStack();
});

after(async () => {
    if (stack) await stack.stop();
});

// ------------------------------------------------------------ RFC 6238

/** Decodes RFC 4648 base32 (upper or lower case, padding optional). */
function base32Decode(s) {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0;
    let acc = 0;
    const out = [];
    for (const ch of s.replace(/=+$/, '').toUpperCase()) {
        const v = abc.indexOf(ch);
        if (v < 0) throw new Error(`not base32: ${ch}`);
        acc = (acc << 5) | v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out.push((acc >>> bits) & 0xff);
        }
    }
    return Buffer.from(out);
}

/** HOTP (RFC 4226) with HMAC-SHA1: the code for `counter` under `key`. */
function hotp(key, counter, digits = 6) {
    const msg = Buffer.alloc(8);
    msg.writeBigUInt64BE(BigInt(counter));
    const h = createHmac('sha1', key).update(msg).digest();
    const off = h[h.length - 1] & 0x0f;
    const bin = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
    return String(bin % 10 ** digits).padStart(digits, '0');
}

/** The current RFC 6238 time step. */
const stepNow = () => Math.floor(Date.now() / 1000 / PERIOD);

/** Parses a totpURI; returns {key, secret, label, params}. */
function parseTotpURI(uri) {
    const u = new URL(uri);
    assert.equal(u.protocol, 'otpauth:');
    assert.equal(u.host, 'totp');
    const secret = u.searchParams.get('secret');
    assert.match(secret, /^[A-Z2-7]+$/, 'secret is unpadded base32');
    const key = base32Decode(secret);
    return { key, secret, label: decodeURIComponent(u.pathname.slice(1)), params: u.searchParams };
}

// ------------------------------------------------------------ helpers

/** Asserts that no Set-Cookie line of the last response set a live session cookie. */
function assertNoSessionCookieSet(client, what) {
    for (const line of jarOf(client).lastSetCookie) {
        if (!line.startsWith(`${COOKIE}=`) && !line.startsWith('mana.session_data=')) continue;
        const value = line.split(';')[0].split('=').slice(1).join('=');
        assert.ok(value === '' || /;\s*max-age=0/i.test(line),
            `${what}: session cookie set before the second factor: ${line}`);
    }
    assert.equal(jarOf(client).get(COOKIE), undefined, `${what}: no session cookie in the jar`);
}

/**
 * Signs a new user up, enables TOTP and confirms it with the code of the
 * current step. Returns {email, key, backupCodes, step, user} where step is
 * the time step whose code was used.
 */
async function enrolledUser(tag) {
    const c = makeClient(stack, { plugins: [twoFactorClient()] });
    const { email, data } = await signUpNew(c, { tag });
    const en = ok(await c.twoFactor.enable({ password: STRONG }), 'two-factor/enable');
    assert.equal(typeof en.totpURI, 'string');
    assert.ok(Array.isArray(en.backupCodes), `backupCodes in ${JSON.stringify(en)}`);
    const { key } = parseTotpURI(en.totpURI);

    const s0 = ok(await c.getSession(), 'session before verify');
    assert.equal(s0.user.twoFactorEnabled, false, 'not enabled before the first code');

    const step = stepNow();
    const v = ok(await c.twoFactor.verifyTotp({ code: hotp(key, step) }), 'verify-totp (enable)');
    assert.equal(v.user.id, data.user.id);
    const s1 = ok(await c.getSession(), 'session after verify');
    assert.ok(s1, 'still signed in after enabling (rotated session cookie)');
    assert.equal(s1.user.twoFactorEnabled, true);
    ok(await c.signOut(), 'sign-out');
    return { email, key, backupCodes: en.backupCodes, step, user: data.user };
}

/** Password sign-in of a 2FA user in a fresh browser; asserts the challenge. */
async function challenged(email, extraCookies) {
    const c = makeClient(stack, { plugins: [twoFactorClient()] });
    if (extraCookies) for (const [k, v] of extraCookies) jarOf(c).cookies.set(k, v);
    const d = ok(await c.signIn.email({ email, password: STRONG }), 'sign-in (2FA user)');
    assert.equal(d.twoFactorRedirect, true, `twoFactorRedirect in ${JSON.stringify(d)}`);
    assert.ok(Array.isArray(d.twoFactorMethods) && d.twoFactorMethods.includes('totp'),
        `twoFactorMethods in ${JSON.stringify(d)}`);
    assert.equal(d.token, undefined, 'no session token in the challenge answer');
    assert.equal(d.user, undefined, 'no user in the challenge answer');
    assertNoSessionCookieSet(c, 'sign-in challenge');
    assert.ok(jarOf(c).get(TWO_FACTOR), `two_factor cookie in ${jarOf(c).lastSetCookie}`);
    assert.equal((await c.getSession()).data, null, 'no session while challenged');
    return c;
}

/** Asserts the client now holds a live session for `user`. */
async function assertSignedIn(c, user, what) {
    assert.ok(jarOf(c).get(COOKIE), `${what}: session cookie set`);
    const s = ok(await c.getSession(), `${what}: get-session`);
    assert.ok(s, `${what}: has a session`);
    assert.equal(s.user.id, user.id, `${what}: same user`);
}

// --------------------------------------------------------------- tests

describe('RFC 6238 helper (self-check)', () => {
    test('matches the RFC 6238 SHA-1 vectors', () => {
        const key = Buffer.from('12345678901234567890');
        for (const [t, code] of [[59, '94287082'], [1111111109, '07081804'],
            [1234567890, '89005924'], [20000000000, '65353130']]) {
            assert.equal(hotp(key, Math.floor(t / 30), 8), code, `T=${t}`);
        }
    });
});

describe('two-factor (TOTP)', () => {
    test('enable returns an otpauth URI with Better Auth parameters', async () => {
        const c = makeClient(stack, { plugins: [twoFactorClient()] });
        const { email } = await signUpNew(c, { tag: 'tfuri' });
        assertClientError(await c.twoFactor.enable({ password: 'Wrong-Password-123' }),
            400, 'INVALID_PASSWORD', 'enable with a wrong password');
        const en = ok(await c.twoFactor.enable({ password: STRONG }), 'enable');
        const { key, label, params } = parseTotpURI(en.totpURI);
        assert.match(key.toString('utf8'), /^[A-Za-z0-9_-]{32}$/,
            'HMAC key is the 32-char secret string');
        assert.ok(label.endsWith(`:${email}`), `label ${label}`);
        assert.equal(params.get('digits'), '6');
        assert.equal(params.get('period'), '30');
        assert.ok(params.get('issuer'), 'issuer set');
        assert.equal(en.backupCodes.length, 10);
        for (const b of en.backupCodes) assert.match(b, /^[A-Za-z0-9]{5}-[A-Za-z0-9]{5}$/);

        // A code ten steps ahead is outside the ±1 window.
        assertClientError(await c.twoFactor.verifyTotp({ code: hotp(key, stepNow() + 10) }),
            401, 'INVALID_CODE', 'wrong code while enabling');
        assert.equal(ok(await c.getSession(), 's').user.twoFactorEnabled, false);
    });

    test('sign-in is challenged, no session before the code; a used code is refused', async () => {
        const u = await enrolledUser('tftotp');
        const c = await challenged(u.email);

        // The code that enabled 2FA is still inside the ±1 window but spent.
        assertClientError(await c.twoFactor.verifyTotp({ code: hotp(u.key, u.step) }),
            401, 'INVALID_CODE', 'replayed TOTP code');
        assertNoSessionCookieSet(c, 'after a refused code');

        const v = ok(await c.twoFactor.verifyTotp({ code: hotp(u.key, u.step + 1) }),
            'verify-totp with the next step');
        assert.equal(v.user.id, u.user.id);
        assert.equal(typeof v.token, 'string');
        await assertSignedIn(c, u.user, 'after TOTP');
        const tf = jarOf(c).lastSetCookie.find((l) => l.startsWith(`${TWO_FACTOR}=`));
        assert.ok(!tf || /max-age=0/i.test(tf), `two_factor cookie expired: ${tf}`);

        // The challenge is consumed: its cookie cannot mint a second session.
        assert.equal(jarOf(c).get(TWO_FACTOR), undefined);
    });

    test('a backup code works once; disable turns the challenge off', async () => {
        const u = await enrolledUser('tfbackup');

        const a = await challenged(u.email);
        const v = ok(await a.twoFactor.verifyBackupCode({ code: u.backupCodes[0] }),
            'verify-backup-code');
        assert.equal(v.user.id, u.user.id);
        await assertSignedIn(a, u.user, 'after backup code');

        const b = await challenged(u.email);
        assertClientError(await b.twoFactor.verifyBackupCode({ code: u.backupCodes[0] }),
            401, 'INVALID_BACKUP_CODE', 'second use of a backup code');
        assertNoSessionCookieSet(b, 'after a spent backup code');
        ok(await b.twoFactor.verifyBackupCode({ code: u.backupCodes[1] }), 'another backup code');
        await assertSignedIn(b, u.user, 'after the second backup code');

        assertClientError(await b.twoFactor.disable({ password: 'Wrong-Password-123' }),
            400, 'INVALID_PASSWORD', 'disable with a wrong password');
        assert.deepEqual(ok(await b.twoFactor.disable({ password: STRONG }), 'disable'),
            { status: true });
        const s = ok(await b.getSession(), 'session after disable');
        assert.ok(s, 'still signed in after disabling');
        assert.equal(s.user.twoFactorEnabled, false);

        const c = makeClient(stack, { plugins: [twoFactorClient()] });
        const d = ok(await c.signIn.email({ email: u.email, password: STRONG }), 'sign-in');
        assert.equal(d.twoFactorRedirect, undefined, 'no challenge after disable');
        await assertSignedIn(c, u.user, 'plain sign-in after disable');
    });

    test('one backup code raced from two browsers is accepted once', async () => {
        const u = await enrolledUser('tfrace');
        const a = await challenged(u.email);
        const b = await challenged(u.email);
        const code = u.backupCodes[3];
        const [ra, rb] = await Promise.all([
            a.twoFactor.verifyBackupCode({ code }), b.twoFactor.verifyBackupCode({ code }),
        ]);
        const wins = [ra, rb].filter((r) => r.data && !r.error);
        assert.equal(wins.length, 1, `exactly one wins: ${JSON.stringify([ra.error, rb.error])}`);
        const loser = ra.error ? ra : rb;
        assert.ok([401, 409].includes(loser.error.status), JSON.stringify(loser.error));
        const signedIn = [];
        for (const c of [a, b]) if ((await c.getSession()).data) signedIn.push(c);
        assert.equal(signedIn.length, 1, 'only the winner has a session');
    });

    test('trustDevice: the next sign-in in that browser skips the challenge', async () => {
        const u = await enrolledUser('tftrust');
        const c = await challenged(u.email);
        ok(await c.twoFactor.verifyTotp({ code: hotp(u.key, u.step + 1), trustDevice: true }),
            'verify-totp trustDevice');
        const line = jarOf(c).lastSetCookie.find((l) => l.startsWith(`${TRUST}=`));
        assert.ok(line, `trust_device cookie in ${jarOf(c).lastSetCookie}`);
        assert.match(line, /;\s*Max-Age=2592000/i);
        assert.match(line, /;\s*HttpOnly/i);
        const first = jarOf(c).get(TRUST);

        ok(await c.signOut(), 'sign-out');
        assert.ok(jarOf(c).get(TRUST), 'sign-out keeps the trusted device');
        const d = ok(await c.signIn.email({ email: u.email, password: STRONG }),
            'sign-in from the trusted browser');
        assert.equal(d.twoFactorRedirect, undefined, `no challenge: ${JSON.stringify(d)}`);
        await assertSignedIn(c, u.user, 'trusted device');
        assert.notEqual(jarOf(c).get(TRUST), first, 'trust_device rotated on use');

        // Another browser is still challenged.
        await challenged(u.email);
    });
});

describe('v1 token API two-factor completion', () => {
    /** POSTs JSON to /api/v1/auth without cookies; returns {status, body, res}. */
    async function v1(path, body) {
        const res = await fetch(`${stack.baseURL}/api/v1/auth${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
        });
        const text = await res.text();
        let parsed;
        try { parsed = JSON.parse(text); } catch { parsed = text; }
        return { status: res.status, body: parsed, res };
    }

    test('login → twoFactorToken → /two-factor with TOTP → tokens', async () => {
        const u = await enrolledUser('tfv1');
        const L = await v1('/login', { email: u.email, password: STRONG });
        assert.equal(L.status, 200, JSON.stringify(L.body));
        assert.equal(L.body.twoFactorRedirect, true, JSON.stringify(L.body));
        assert.ok(L.body.twoFactorMethods.includes('totp'));
        assert.equal(typeof L.body.twoFactorToken, 'string');
        assert.equal(L.body.accessToken, undefined, 'no tokens before the second factor');
        assert.equal(L.res.headers.getSetCookie().some((l) => l.startsWith(`${COOKIE}=`) &&
            !/max-age=0/i.test(l)), false, 'no session cookie before the second factor');

        const bad = await v1('/two-factor', {
            twoFactorToken: L.body.twoFactorToken, code: hotp(u.key, u.step), method: 'totp',
        });
        assert.equal(bad.status, 401, `replayed code: ${JSON.stringify(bad.body)}`);
        assert.equal(bad.body.code, 'INVALID_CODE');

        const T = await v1('/two-factor', {
            twoFactorToken: L.body.twoFactorToken, code: hotp(u.key, u.step + 1), method: 'totp',
        });
        assert.equal(T.status, 200, JSON.stringify(T.body));
        for (const k of ['accessToken', 'refreshToken', 'token']) {
            assert.equal(typeof T.body[k], 'string', `${k} in ${JSON.stringify(T.body)}`);
        }
        assert.equal(T.body.user.id, u.user.id);
        const V = await v1('/validate', { token: T.body.accessToken });
        assert.equal(V.body.valid, true, JSON.stringify(V.body));

        const again = await v1('/two-factor', {
            twoFactorToken: L.body.twoFactorToken, code: u.backupCodes[0], method: 'backup',
        });
        assert.equal(again.status, 401, `challenge reused: ${JSON.stringify(again.body)}`);
    });
});
