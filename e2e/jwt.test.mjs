// JWT plugin and the v1 token API: tokens minted by mana-auth verify with
// the `jose` package against our own /api/auth/jwks, as a downstream
// service would verify them.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { jwtClient } from 'better-auth/client/plugins';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

import {
    STRONG, jarOf, jsonOf, linkIn, makeClient, newEmail, ok, signUpNew, startStack,
} from './lib/harness.mjs';

const COOKIE = 'mana.session_token';

let stack;
let jwks;

before(async () => {
    stack = await startStack();
    jwks = createRemoteJWKSet(new URL(`${stack.baseURL}/api/auth/jwks`));
});

after(async () => {
    if (stack) await stack.stop();
});

/** Verifies a JWT as a downstream service would; returns {payload, protectedHeader}. */
function verify(token) {
    return jwtVerify(token, jwks, {
        issuer: stack.origin, audience: stack.origin, algorithms: ['EdDSA'],
    });
}

/** Asserts the claims mana-auth promises for a user's session. */
function assertClaims(payload, { user, session }, what) {
    assert.equal(payload.sub, user.id, `${what}: sub`);
    assert.equal(payload.email, user.email, `${what}: email`);
    assert.equal(typeof payload.role, 'string', `${what}: role in ${JSON.stringify(payload)}`);
    assert.ok(payload.role.length > 0, `${what}: role`);
    assert.equal(payload.sid, session.id, `${what}: sid is the session id`);
    assert.equal(payload.iss, stack.origin, `${what}: iss`);
    assert.equal(payload.aud, stack.origin, `${what}: aud`);
    assert.equal(payload.exp - payload.iat, 900, `${what}: 15-minute lifetime`);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 60, `${what}: iat is now`);
}

/** POSTs JSON to the v1 token API without cookies, as a mobile app does. */
function v1(path, body, headers = {}) {
    return fetch(`${stack.baseURL}/api/v1/auth${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
}

describe('jwt plugin through jwtClient', () => {
    test('jwks() serves Ed25519 public keys only', async () => {
        const c = makeClient(stack, { plugins: [jwtClient()] });
        const data = ok(await c.jwks(), 'jwks');
        assert.ok(Array.isArray(data.keys) && data.keys.length >= 1, JSON.stringify(data));
        for (const k of data.keys) {
            assert.equal(k.kty, 'OKP');
            assert.equal(k.crv, 'Ed25519');
            assert.equal(k.alg, 'EdDSA');
            assert.equal(typeof k.kid, 'string');
            assert.equal(typeof k.x, 'string');
            assert.equal(k.d, undefined, 'no private part in the JWKS');
        }
    });

    test('token() verifies with jose against /api/auth/jwks', async () => {
        const c = makeClient(stack, { plugins: [jwtClient()] });
        await signUpNew(c, { tag: 'jwt' });
        const s = ok(await c.getSession(), 'get-session');

        const { token } = ok(await c.token(), 'token');
        assert.equal(typeof token, 'string');
        const header = decodeProtectedHeader(token);
        assert.equal(header.alg, 'EdDSA');
        assert.equal(typeof header.kid, 'string');

        const { payload } = await verify(token);
        assertClaims(payload, s, 'token()');

        const { keys } = ok(await c.jwks(), 'jwks');
        assert.ok(keys.some((k) => k.kid === header.kid), 'kid is in the JWKS');
    });

    test('a changed payload or a foreign audience does not verify', async () => {
        const c = makeClient(stack, { plugins: [jwtClient()] });
        await signUpNew(c, { tag: 'jwtbad' });
        const { token } = ok(await c.token(), 'token');
        const [h, p, sig] = token.split('.');
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
        claims.role = 'admin';
        const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
        await assert.rejects(verify(forged), /signature/i);
        await assert.rejects(jwtVerify(token, jwks, { audience: 'https://other.example' }),
            /aud/);
    });

    test('getSession carries set-auth-jwt, exposed to browsers, and it verifies', async () => {
        const c = makeClient(stack, { plugins: [jwtClient()] });
        await signUpNew(c, { tag: 'jwthdr' });
        let headers;
        const s = ok(await c.getSession({
            fetchOptions: { onResponse(ctx) { headers = ctx.response.headers; } },
        }), 'get-session');
        assert.ok(headers, 'onResponse saw the response');
        const jwt = headers.get('set-auth-jwt');
        assert.ok(jwt, 'set-auth-jwt header present');
        const expose = (headers.get('access-control-expose-headers') || '').toLowerCase();
        assert.ok(expose.split(',').map((x) => x.trim()).includes('set-auth-jwt'),
            `Access-Control-Expose-Headers: ${expose}`);

        const { payload, protectedHeader } = await verify(jwt);
        assert.equal(protectedHeader.alg, 'EdDSA');
        assertClaims(payload, s, 'set-auth-jwt');
    });

    test('getSession without a session has no set-auth-jwt', async () => {
        const c = makeClient(stack, { plugins: [jwtClient()] });
        let headers;
        const res = await c.getSession({
            fetchOptions: { onResponse(ctx) { headers = ctx.response.headers; } },
        });
        assert.equal(res.data, null);
        assert.equal(headers.get('set-auth-jwt'), null);
    });

    test('token() without a session is 401', async () => {
        const c = makeClient(stack, { plugins: [jwtClient()] });
        const res = await c.token();
        assert.equal(res.data, null);
        assert.equal(res.error?.status, 401, JSON.stringify(res.error));
    });
});

describe('v1 token API without cookies', () => {
    test('register → login → validate → refresh → logout → SESSION_REVOKED', async () => {
        const email = newEmail('v1');
        const reg = await v1('/register', { email, password: STRONG, name: 'Mobile App' });
        const regBody = await jsonOf(reg);
        assert.equal(reg.status, 200, JSON.stringify(regBody));
        assert.equal(regBody.user.email, email);
        assert.equal(typeof regBody.emailVerificationRequired, 'boolean');
        assert.equal(regBody.emailVerificationRequired, false, 'dev default');

        const login = await v1('/login', { email, password: STRONG });
        const L = await jsonOf(login);
        assert.equal(login.status, 200, JSON.stringify(L));
        for (const k of ['accessToken', 'refreshToken', 'token']) {
            assert.equal(typeof L[k], 'string', `${k} in ${JSON.stringify(L)}`);
        }
        assert.equal(L.user.email, email);
        assert.equal(L.refreshToken, L.token, 'refreshToken is the session token');

        // The login's Set-Cookie works on the native get-session.
        const line = login.headers.getSetCookie().find((l) => l.startsWith(`${COOKIE}=`));
        assert.ok(line, `session cookie in ${login.headers.getSetCookie()}`);
        const gs = await fetch(`${stack.authURL}/get-session`, {
            headers: { cookie: line.split(';')[0] },
        });
        const gsBody = await jsonOf(gs);
        assert.equal(gsBody?.user?.email, email, 'cookie from /login opens get-session');

        // The access token verifies on its own, as a downstream service does it.
        const bearer = { authorization: `Bearer ${L.token}` };
        const sess = await fetch(`${stack.baseURL}/api/v1/auth/session`, { headers: bearer });
        const S = await jsonOf(sess);
        assert.equal(sess.status, 200, JSON.stringify(S));
        assert.equal(S.user.email, email);
        const { payload } = await verify(L.accessToken);
        assertClaims(payload, S, 'v1 accessToken');

        const val = await v1('/validate', { token: L.accessToken });
        const V = await jsonOf(val);
        assert.equal(val.status, 200, JSON.stringify(V));
        assert.equal(V.valid, true, JSON.stringify(V));
        assert.equal(V.payload.sub, L.user.id);
        assert.equal(V.payload.sid, S.session.id);

        const ref = await v1('/refresh', { refreshToken: L.refreshToken });
        const R = await jsonOf(ref);
        assert.equal(ref.status, 200, JSON.stringify(R));
        assert.equal(typeof R.accessToken, 'string');
        assert.equal(typeof R.refreshToken, 'string');
        assert.equal(typeof R.expiresIn, 'number');
        assert.ok(R.expiresIn > 0 && R.expiresIn <= 900, `expiresIn ${R.expiresIn}`);
        const { payload: rp } = await verify(R.accessToken);
        assert.equal(rp.sid, S.session.id, 'refresh keeps the session');

        const out = await v1('/logout', undefined, { authorization: `Bearer ${R.refreshToken}` });
        const O = await jsonOf(out);
        assert.equal(out.status, 200, JSON.stringify(O));
        assert.deepEqual(O, { success: true });

        for (const [what, tok] of [['login token', L.accessToken], ['refreshed', R.accessToken]]) {
            const after = await v1('/validate', { token: tok });
            const A = await jsonOf(after);
            assert.equal(after.status, 200, `${what}: ${JSON.stringify(A)}`);
            assert.deepEqual({ valid: A.valid, code: A.code },
                { valid: false, code: 'SESSION_REVOKED' }, `${what}: ${JSON.stringify(A)}`);
        }

        const again = await v1('/refresh', { refreshToken: R.refreshToken });
        const G = await jsonOf(again);
        assert.equal(again.status, 401, JSON.stringify(G));
        assert.equal(G.code, 'INVALID_REFRESH_TOKEN');
        const gone = await fetch(`${stack.baseURL}/api/v1/auth/session`, {
            headers: { authorization: `Bearer ${L.token}` },
        });
        assert.equal(gone.status, 401, 'session gone after logout');
    });

    test('login with a wrong password is 401 INVALID_EMAIL_OR_PASSWORD', async () => {
        const c = makeClient(stack);
        const { email } = await signUpNew(c, { tag: 'v1bad' });
        const r = await v1('/login', { email, password: 'Wrong-Password-123' });
        const body = await jsonOf(r);
        assert.equal(r.status, 401, JSON.stringify(body));
        assert.equal(body.code, 'INVALID_EMAIL_OR_PASSWORD');
        assert.equal(r.headers.getSetCookie().some((l) => l.startsWith(`${COOKIE}=`) &&
            !/max-age=0/i.test(l)), false, 'no session cookie');
    });

    test('validate: garbage is INVALID_TOKEN, no token is 400', async () => {
        const r = await v1('/validate', { token: 'eyJhbGciOiJub25lIn0.e30.' });
        const body = await jsonOf(r);
        assert.equal(r.status, 200, JSON.stringify(body));
        assert.deepEqual({ valid: body.valid, code: body.code },
            { valid: false, code: 'INVALID_TOKEN' });
        const none = await v1('/validate', {});
        assert.equal(none.status, 400);
    });

    test('a token from the native session validates and dies with sign-out', async () => {
        const c = makeClient(stack, { plugins: [jwtClient()] });
        await signUpNew(c, { tag: 'v1native' });
        const { token } = ok(await c.token(), 'token');
        const V = await jsonOf(await v1('/validate', { token }));
        assert.equal(V.valid, true, JSON.stringify(V));
        ok(await c.signOut(), 'sign-out');
        assert.equal(jarOf(c).get(COOKIE), undefined);
        const A = await jsonOf(await v1('/validate', { token }));
        assert.deepEqual({ valid: A.valid, code: A.code },
            { valid: false, code: 'SESSION_REVOKED' }, JSON.stringify(A));
        const t = await c.token();
        assert.equal(t.error?.status, 401, `token after sign-out: ${JSON.stringify(t)}`);
    });
});

describe('v1 token API with REQUIRE_EMAIL_VERIFICATION', () => {
    let strict;

    before(async () => {
        strict = await startStack({ env: { REQUIRE_EMAIL_VERIFICATION: 'true' } });
    });

    after(async () => {
        if (strict) await strict.stop();
    });

    test('login before verifying is 403 EMAIL_NOT_VERIFIED; after the mailed link it works',
        async () => {
            const post = (path, body) => fetch(`${strict.baseURL}/api/v1/auth${path}`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify(body),
            });
            const email = newEmail('v1verify');
            const reg = await post('/register', { email, password: STRONG, name: 'Strict' });
            const R = await jsonOf(reg);
            assert.equal(reg.status, 200, JSON.stringify(R));
            assert.equal(R.emailVerificationRequired, true);
            assert.equal(R.accessToken, undefined, 'no tokens before verification');

            const early = await post('/login', { email, password: STRONG });
            const E = await jsonOf(early);
            assert.equal(early.status, 403, JSON.stringify(E));
            assert.equal(E.code, 'EMAIL_NOT_VERIFIED');
            assert.equal(early.headers.getSetCookie().some((l) => l.startsWith(`${COOKIE}=`) &&
                !/max-age=0/i.test(l)), false, 'no session cookie');

            const mail = await strict.mail.waitFor(email, { match: /verify-email/ });
            const link = linkIn(mail, '/api/auth/verify-email');
            const v = await fetch(link, { redirect: 'manual' });
            assert.ok(v.status === 302 || v.status === 200, `GET ${link} → ${v.status}`);
            assert.doesNotMatch(v.headers.get('location') || '', /error=/);

            const late = await post('/login', { email, password: STRONG });
            const L = await jsonOf(late);
            assert.equal(late.status, 200, JSON.stringify(L));
            await jwtVerify(L.accessToken, createRemoteJWKSet(
                new URL(`${strict.baseURL}/api/auth/jwks`)), {
                issuer: strict.origin, audience: strict.origin, algorithms: ['EdDSA'],
            });
        });
});
