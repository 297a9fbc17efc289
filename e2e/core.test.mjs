// Core Better Auth flows through the published better-auth client, against a
// real mana-auth process, a real database and a real SMTP server.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
    STRONG, browserFetch, jarOf, linkIn, makeClient, newEmail, randomId, signUpNew, startStack,
} from './lib/harness.mjs';

const COOKIE = 'mana.session_token';
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let stack;

before(async () => {
    stack = await startStack();
});

after(async () => {
    if (stack) await stack.stop();
});

/** Asserts a client error: status and code, and no data. */
function assertError(res, status, code, what) {
    assert.equal(res.data, null, `${what}: expected no data, got ${JSON.stringify(res.data)}`);
    assert.ok(res.error, `${what}: expected an error`);
    assert.equal(res.error.status, status,
        `${what}: status ${res.error.status} ${JSON.stringify(res.error)}`);
    assert.equal(res.error.code, code, `${what}: code in ${JSON.stringify(res.error)}`);
}

/** Asserts a successful client call and returns its data. */
function ok(res, what) {
    assert.equal(res.error, null, `${what}: unexpected error ${JSON.stringify(res.error)}`);
    return res.data;
}

describe('sign-up', () => {
    test('creates the user, sets the session cookie, returns the user', async () => {
        const c = makeClient(stack);
        const email = `Ada.Lovelace.${randomId()}@Mana.TEST`;
        const res = await c.signUp.email({ name: 'Ada Lovelace', email, password: STRONG });
        const data = ok(res, 'sign-up');

        assert.equal(typeof data.token, 'string');
        assert.ok(data.token.length >= 32, `token ${data.token}`);
        const u = data.user;
        assert.match(u.id, /^[A-Za-z0-9_-]{16,}$/);
        assert.equal(u.email, email.toLowerCase());
        assert.equal(u.name, 'Ada Lovelace');
        assert.equal(u.emailVerified, false);
        assert.ok(u.createdAt instanceof Date, `createdAt revived: ${u.createdAt}`);
        assert.ok(u.updatedAt instanceof Date, `updatedAt revived: ${u.updatedAt}`);
        assert.ok(Math.abs(u.createdAt.getTime() - Date.now()) < 60_000);
        assert.equal(u.password, undefined, 'password must never be returned');

        const cookie = jarOf(c).get(COOKIE);
        assert.ok(cookie, `cookie ${COOKIE} set; got ${jarOf(c).lastSetCookie}`);
        assert.ok(decodeURIComponent(cookie).startsWith(`${data.token}.`),
            'cookie value is token.signature');
        const line = jarOf(c).lastSetCookie.find((l) => l.startsWith(`${COOKIE}=`));
        assert.match(line, /;\s*HttpOnly/i);
        assert.match(line, /;\s*Path=\//i);
        assert.match(line, /;\s*SameSite=Lax/i);
        assert.match(line, /;\s*Max-Age=604800/i);
        assert.doesNotMatch(line, /;\s*Secure/i, 'no Secure over plain http');

        const s = ok(await c.getSession(), 'get-session');
        assert.equal(s.user.id, u.id);
        assert.equal(s.session.userId, u.id);
        assert.equal(s.session.token, data.token);
    });

    test('duplicate email (any case) is 422 USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL', async () => {
        const a = makeClient(stack);
        const { email } = await signUpNew(a, { tag: 'dup' });
        const b = makeClient(stack);
        const res = await b.signUp.email({
            name: 'Again', email: email.toUpperCase(), password: STRONG,
        });
        assertError(res, 422, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL', 'duplicate sign-up');
        assert.equal(jarOf(b).get(COOKIE), undefined, 'no cookie on failure');
    });

    test('a common password is 400 PASSWORD_COMPROMISED', async () => {
        const c = makeClient(stack);
        const res = await c.signUp.email({
            name: 'Weak', email: newEmail('weak'), password: 'password123',
        });
        assertError(res, 400, 'PASSWORD_COMPROMISED', 'sign-up with password123');
        assert.equal(jarOf(c).get(COOKIE), undefined);
    });

    test('a short password is 400 PASSWORD_TOO_SHORT', async () => {
        const c = makeClient(stack);
        const res = await c.signUp.email({ name: 'S', email: newEmail('short'), password: 'aB3$' });
        assertError(res, 400, 'PASSWORD_TOO_SHORT', 'sign-up with 4-char password');
    });
});

describe('sign-in', () => {
    test('wrong password and unknown email are both 401 INVALID_EMAIL_OR_PASSWORD', async () => {
        const a = makeClient(stack);
        const { email } = await signUpNew(a, { tag: 'wrongpw' });
        const c = makeClient(stack);
        assertError(await c.signIn.email({ email, password: `${STRONG}x` }),
            401, 'INVALID_EMAIL_OR_PASSWORD', 'wrong password');
        assertError(await c.signIn.email({ email: newEmail('nobody'), password: STRONG }),
            401, 'INVALID_EMAIL_OR_PASSWORD', 'unknown email');
        assert.equal(jarOf(c).get(COOKIE), undefined);
    });

    test('correct password signs in; getSession returns session and user', async () => {
        const a = makeClient(stack);
        const { email, data: up } = await signUpNew(a, { tag: 'signin' });
        const b = makeClient(stack);
        const data = ok(await b.signIn.email({ email: email.toUpperCase(), password: STRONG }),
            'sign-in');
        assert.equal(data.redirect, false);
        assert.equal(typeof data.token, 'string');
        assert.notEqual(data.token, up.token, 'a new session');
        assert.equal(data.user.id, up.user.id);
        assert.equal(data.user.email, email);
        assert.ok(jarOf(b).get(COOKIE));

        const s = ok(await b.getSession(), 'get-session');
        assert.equal(s.session.token, data.token);
        assert.equal(s.session.userId, up.user.id);
        assert.ok(s.session.expiresAt instanceof Date);
        assert.ok(s.session.expiresAt.getTime() > Date.now() + 6 * 86400_000);
        assert.equal(s.user.email, email);
    });

    test('a trusted relative callbackURL answers redirect:true with the url', async () => {
        const a = makeClient(stack);
        const { email } = await signUpNew(a, { tag: 'cb' });
        const b = makeClient(stack);
        const data = ok(await b.signIn.email({ email, password: STRONG, callbackURL: '/dashboard' }),
            'sign-in with callbackURL');
        assert.equal(data.redirect, true);
        assert.equal(data.url, '/dashboard');
    });

    test('callbackURL https://evil.example is 403 INVALID_CALLBACK_URL', async () => {
        const a = makeClient(stack);
        const { email } = await signUpNew(a, { tag: 'evilcb' });
        const b = makeClient(stack);
        const res = await b.signIn.email({ email, password: STRONG, callbackURL: 'https://evil.example' });
        assertError(res, 403, 'INVALID_CALLBACK_URL', 'sign-in with evil callbackURL');
        assert.equal(jarOf(b).get(COOKIE), undefined, 'no session cookie');
    });

    test('getSession without a cookie is null', async () => {
        const c = makeClient(stack);
        const res = await c.getSession();
        assert.equal(res.error, null);
        assert.equal(res.data, null);
    });
});

describe('sessions', () => {
    test('listSessions shows both browsers; revokeSession signs the other one out', async () => {
        const a = makeClient(stack);
        const { email, data: up } = await signUpNew(a, { tag: 'list' });
        const b = makeClient(stack);
        const tb = ok(await b.signIn.email({ email, password: STRONG }), 'sign-in b').token;

        const list = ok(await a.listSessions(), 'list-sessions');
        assert.ok(Array.isArray(list));
        assert.equal(list.length, 2, JSON.stringify(list));
        assert.deepEqual(list.map((s) => s.token).sort(), [up.token, tb].sort());
        for (const s of list) {
            assert.equal(s.userId, up.user.id);
            assert.ok(s.expiresAt instanceof Date);
        }

        assert.deepEqual(ok(await a.revokeSession({ token: tb }), 'revoke-session'), { status: true });
        const gone = await b.getSession();
        assert.equal(gone.error, null);
        assert.equal(gone.data, null, 'revoked browser has no session');
        assert.ok(ok(await a.getSession(), 'a still signed in').session);
        assert.equal(ok(await a.listSessions(), 'list after').length, 1);
    });

    test('revokeSession of a foreign token is a silent no-op', async () => {
        const a = makeClient(stack);
        await signUpNew(a, { tag: 'foreign-a' });
        const b = makeClient(stack);
        const { data: bu } = await signUpNew(b, { tag: 'foreign-b' });
        assert.deepEqual(ok(await a.revokeSession({ token: bu.token }), 'revoke foreign'),
            { status: true });
        assert.ok(ok(await b.getSession(), 'b untouched'), 'b still signed in');
    });

    test('revokeOtherSessions keeps only the caller', async () => {
        const a = makeClient(stack);
        const { email } = await signUpNew(a, { tag: 'others' });
        const b = makeClient(stack);
        const c = makeClient(stack);
        ok(await b.signIn.email({ email, password: STRONG }), 'sign-in b');
        ok(await c.signIn.email({ email, password: STRONG }), 'sign-in c');

        assert.deepEqual(ok(await b.revokeOtherSessions(), 'revoke-other-sessions'),
            { status: true });
        assert.equal((await a.getSession()).data, null, 'a signed out');
        assert.equal((await c.getSession()).data, null, 'c signed out');
        assert.ok((await b.getSession()).data, 'b still signed in');
        assert.equal(ok(await b.listSessions(), 'list').length, 1);
    });

    test('signOut clears the cookie and ends the session on the server', async () => {
        const a = makeClient(stack);
        await signUpNew(a, { tag: 'signout' });
        const stolen = jarOf(a).header();
        assert.deepEqual(ok(await a.signOut(), 'sign-out'), { success: true });
        assert.equal(jarOf(a).get(COOKIE), undefined, 'cookie expired with Max-Age=0');
        assert.equal((await a.getSession()).data, null);

        // The old cookie must not work any more either.
        const r = await fetch(`${stack.authURL}/get-session`, { headers: { cookie: stolen } });
        assert.equal(r.status, 200);
        assert.equal(await r.json(), null);
    });

    test('dates on the wire are UTC ISO with milliseconds', async () => {
        const a = makeClient(stack);
        await signUpNew(a, { tag: 'dates' });
        const r = await fetch(`${stack.authURL}/get-session`, {
            headers: { cookie: jarOf(a).header() },
        });
        assert.equal(r.status, 200);
        assert.match(r.headers.get('cache-control') || '', /no-store/);
        const body = await r.json();
        for (const [k, v] of [
            ['user.createdAt', body.user.createdAt], ['user.updatedAt', body.user.updatedAt],
            ['session.expiresAt', body.session.expiresAt],
            ['session.createdAt', body.session.createdAt],
        ]) assert.match(v, ISO_MS, k);
    });
});

describe('account', () => {
    test('changePassword: old fails, new works, other browser stays', async () => {
        const a = makeClient(stack);
        const { email } = await signUpNew(a, { tag: 'chpw' });
        const b = makeClient(stack);
        ok(await b.signIn.email({ email, password: STRONG }), 'sign-in b');

        assertError(await a.changePassword({ currentPassword: 'Wrong-password-42', newPassword: 'N3w!Passphrase-1' }),
            400, 'INVALID_PASSWORD', 'wrong current password');

        const NEW = 'N3w!Passphrase-1';
        const data = ok(await a.changePassword({ currentPassword: STRONG, newPassword: NEW }),
            'change-password');
        assert.equal(data.token, null);
        assert.equal(data.user.email, email);
        assert.ok((await b.getSession()).data, 'b kept its session');

        const c = makeClient(stack);
        assertError(await c.signIn.email({ email, password: STRONG }),
            401, 'INVALID_EMAIL_OR_PASSWORD', 'old password');
        ok(await c.signIn.email({ email, password: NEW }), 'new password');
    });

    test('changePassword with revokeOtherSessions signs the other browser out', async () => {
        const a = makeClient(stack);
        const { email } = await signUpNew(a, { tag: 'chpwrev' });
        const b = makeClient(stack);
        ok(await b.signIn.email({ email, password: STRONG }), 'sign-in b');

        const NEW = 'Another#Strong-Pass9';
        const data = ok(await a.changePassword({
            currentPassword: STRONG, newPassword: NEW, revokeOtherSessions: true,
        }), 'change-password');
        assert.equal(typeof data.token, 'string');

        const sa = ok(await a.getSession(), 'a session');
        assert.ok(sa, 'a still signed in with its new cookie');
        assert.equal(sa.session.token, data.token);
        assert.equal((await b.getSession()).data, null, 'b signed out');
        ok(await makeClient(stack).signIn.email({ email, password: NEW }), 'new password');
    });

    test('changePassword to a common password is 400 PASSWORD_COMPROMISED', async () => {
        const a = makeClient(stack);
        await signUpNew(a, { tag: 'chpwweak' });
        assertError(await a.changePassword({ currentPassword: STRONG, newPassword: 'password123' }),
            400, 'PASSWORD_COMPROMISED', 'change to password123');
    });

    test('updateUser({name}) shows in getSession', async () => {
        const a = makeClient(stack);
        await signUpNew(a, { tag: 'upd', name: 'Before' });
        assert.deepEqual(ok(await a.updateUser({ name: 'After Name' }), 'update-user'),
            { status: true });
        const s = ok(await a.getSession(), 'get-session');
        assert.equal(s.user.name, 'After Name');

        assertError(await a.updateUser({ email: newEmail('other') }),
            400, 'EMAIL_CAN_NOT_BE_UPDATED', 'update-user email');
    });

    test('listAccounts() shows the credential account without secrets', async () => {
        const a = makeClient(stack);
        const { data: up } = await signUpNew(a, { tag: 'accts' });
        const list = ok(await a.listAccounts(), 'list-accounts');
        assert.equal(list.length, 1);
        assert.equal(list[0].providerId, 'credential');
        assert.equal(list[0].accountId, up.user.id);
        assert.deepEqual(list[0].scopes, []);
        assert.ok(list[0].createdAt instanceof Date);
        assert.equal(list[0].password, undefined);
    });

    test('deleteUser({password}) removes the account', async () => {
        const a = makeClient(stack);
        const { email } = await signUpNew(a, { tag: 'del' });
        assertError(await a.deleteUser({ password: 'Not-the-password-1' }),
            400, 'INVALID_PASSWORD', 'delete with wrong password');
        assert.ok((await a.getSession()).data, 'still there after a wrong password');

        const data = ok(await a.deleteUser({ password: STRONG }), 'delete-user');
        assert.equal(data.success, true);
        assert.equal((await a.getSession()).data, null, 'session gone');
        assertError(await makeClient(stack).signIn.email({ email, password: STRONG }),
            401, 'INVALID_EMAIL_OR_PASSWORD', 'sign-in after delete');
        // The address is free again.
        ok(await makeClient(stack).signUp.email({ name: 'Again', email, password: STRONG }),
            'sign-up again');
    });
});

describe('mail flows', () => {
    test('password reset: mail → link → 302 with token → resetPassword → sign in', async () => {
        const a = makeClient(stack);
        const { email } = await signUpNew(a, { tag: 'reset' });
        const app = makeClient(stack); // the "forgot password" page, signed out
        const redirectTo = `${stack.baseURL}/reset-done`;

        const data = ok(await app.requestPasswordReset({ email, redirectTo }),
            'request-password-reset');
        assert.equal(data.status, true);

        const mail = await stack.mail.waitFor(email, { match: /reset-password/ });
        const link = linkIn(mail, '/api/auth/reset-password/');
        const u = new URL(link);
        assert.equal(u.origin, stack.baseURL);
        assert.match(u.pathname, /^\/api\/auth\/reset-password\/[A-Za-z0-9]+$/);
        assert.equal(u.searchParams.get('callbackURL'), redirectTo);

        const r = await fetch(link, { redirect: 'manual' });
        assert.equal(r.status, 302, `GET ${link}`);
        const loc = new URL(r.headers.get('location'), stack.baseURL);
        assert.equal(`${loc.origin}${loc.pathname}`, redirectTo);
        const token = loc.searchParams.get('token');
        assert.ok(token, `token in ${loc}`);
        assert.equal(loc.searchParams.get('error'), null);

        const NEW = 'Reset-Pass-Fresh-77';
        assert.deepEqual(ok(await app.resetPassword({ newPassword: NEW, token }), 'reset-password'),
            { status: true });

        const c = makeClient(stack);
        assertError(await c.signIn.email({ email, password: STRONG }),
            401, 'INVALID_EMAIL_OR_PASSWORD', 'old password after reset');
        ok(await c.signIn.email({ email, password: NEW }), 'sign-in with reset password');

        assertError(await app.resetPassword({ newPassword: 'Yet-Another-Pass-88', token }),
            400, 'INVALID_TOKEN', 'reusing the reset token');
        const again = await fetch(link, { redirect: 'manual' });
        assert.equal(again.status, 302);
        const eloc = new URL(again.headers.get('location'), stack.baseURL);
        assert.equal(eloc.searchParams.get('error'), 'INVALID_TOKEN', `used link → ${eloc}`);
    });

    test('requestPasswordReset for an unknown email answers the same', async () => {
        const app = makeClient(stack);
        const data = ok(await app.requestPasswordReset({
            email: newEmail('ghost'), redirectTo: `${stack.baseURL}/reset-done`,
        }), 'request-password-reset unknown');
        assert.equal(data.status, true);
    });

    test('requestPasswordReset with an untrusted redirectTo is 403 INVALID_REDIRECT_URL', async () => {
        const app = makeClient(stack);
        assertError(await app.requestPasswordReset({
            email: newEmail('evilredir'), redirectTo: 'https://evil.example/steal',
        }), 403, 'INVALID_REDIRECT_URL', 'evil redirectTo');
    });

    test('email verification: mail → link → emailVerified true', async () => {
        const a = makeClient(stack);
        const { email } = await signUpNew(a, { tag: 'verify' });
        assert.equal(ok(await a.getSession(), 's').user.emailVerified, false);

        const data = ok(await a.sendVerificationEmail({ email, callbackURL: '/welcome' }),
            'send-verification-email');
        assert.equal(data.status, true);

        const mail = await stack.mail.waitFor(email, { match: /verify-email/ });
        const link = linkIn(mail, '/api/auth/verify-email');
        const u = new URL(link);
        assert.equal(u.origin, stack.baseURL);
        assert.ok(u.searchParams.get('token'), `token in ${link}`);

        const r = await browserFetch(a, link);
        assert.equal(r.status, 302, `GET ${link}`);
        const loc = new URL(r.headers.get('location'), stack.baseURL);
        assert.equal(loc.pathname, '/welcome');
        assert.equal(loc.searchParams.get('error'), null, `verify → ${loc}`);

        const s = ok(await a.getSession(), 'get-session after verify');
        assert.equal(s.user.emailVerified, true);

        assertError(await a.sendVerificationEmail({ email }),
            400, 'EMAIL_ALREADY_VERIFIED', 'resend after verify');
    });
});

describe('origin and CSRF', () => {
    test('a cookie-bearing POST from an untrusted Origin is 403 INVALID_ORIGIN', async () => {
        const a = makeClient(stack);
        await signUpNew(a, { tag: 'csrf', name: 'Victim' });
        const r = await fetch(`${stack.authURL}/update-user`, {
            method: 'POST',
            headers: {
                'content-type': 'application/json',
                origin: 'https://evil.example',
                cookie: jarOf(a).header(),
            },
            body: JSON.stringify({ name: 'Pwned' }),
        });
        assert.equal(r.status, 403);
        const body = await r.json();
        assert.equal(body.code, 'INVALID_ORIGIN', JSON.stringify(body));
        assert.equal(ok(await a.getSession(), 's').user.name, 'Victim', 'name unchanged');
    });

    test('a cookie-bearing POST without Origin is 403 MISSING_OR_NULL_ORIGIN', async () => {
        const a = makeClient(stack);
        await signUpNew(a, { tag: 'noorigin' });
        const r = await fetch(`${stack.authURL}/sign-out`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', cookie: jarOf(a).header() },
            body: '{}',
        });
        assert.equal(r.status, 403);
        assert.equal((await r.json()).code, 'MISSING_OR_NULL_ORIGIN');
        assert.ok((await a.getSession()).data, 'still signed in');
    });

    test('a client on an untrusted origin cannot act on its session', async () => {
        const a = makeClient(stack);
        await signUpNew(a, { tag: 'evilclient', name: 'Kept' });
        const evil = makeClient(stack, { origin: 'https://evil.example' });
        jarOf(evil).cookies = new Map(jarOf(a).cookies);
        assertError(await evil.updateUser({ name: 'Changed' }), 403, 'INVALID_ORIGIN',
            'update-user from evil origin');
    });
});
