// Magic-link sign-in through magicLinkClient, with the link received over
// real SMTP and followed as a browser would. Link expiry (5 minutes) is
// tested in Go, not here.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { magicLinkClient } from 'better-auth/client/plugins';

import {
    STRONG, assertClientError, browserFetch, jarOf, linkIn, makeClient, newEmail, ok, signUpNew,
    startStack, verifyEmailOf,
} from './lib/harness.mjs';

const COOKIE = 'mana.session_token';

let stack;

before(async () => {
    stack = await startStack();
});

after(async () => {
    if (stack) await stack.stop();
});

const client = () => makeClient(stack, { plugins: [magicLinkClient()] });

/** Requests a magic link for `email` and returns the link from the mail. */
async function mailedLink(c, body) {
    assert.deepEqual(ok(await c.signIn.magicLink(body), 'sign-in/magic-link'), { status: true });
    const mail = await stack.mail.waitFor(body.email, { match: /magic-link\/verify/ });
    const link = linkIn(mail, '/api/auth/magic-link/verify');
    const u = new URL(link);
    assert.equal(u.origin, stack.baseURL);
    assert.match(u.searchParams.get('token') || '', /^[A-Za-z0-9_-]{16,}$/, `token in ${link}`);
    return link;
}

/** Follows a link in the client's browser; returns the parsed Location. */
async function follow(c, link) {
    const r = await browserFetch(c, link);
    assert.equal(r.status, 302, `GET ${link} → ${r.status} ${await r.text()}`);
    return new URL(r.headers.get('location'), stack.baseURL);
}

describe('magic link', () => {
    test('existing user: mail → link → 302 /home with a session; the link is single use',
        async () => {
            const owner = client();
            const { email, data } = await signUpNew(owner, { tag: 'ml' });
            await verifyEmailOf(stack, owner, email);

            const b = client();
            const link = await mailedLink(b, { email, callbackURL: '/home' });
            assert.equal(new URL(link).searchParams.get('callbackURL'), '/home');

            const loc = await follow(b, link);
            assert.equal(loc.origin, stack.baseURL);
            assert.equal(loc.pathname, '/home');
            assert.equal(loc.searchParams.get('error'), null, `→ ${loc}`);
            assert.ok(jarOf(b).get(COOKIE), `session cookie in ${jarOf(b).lastSetCookie}`);
            const s = ok(await b.getSession(), 'get-session');
            assert.equal(s.user.id, data.user.id);
            assert.equal(s.user.emailVerified, true);
            assert.ok(ok(await owner.getSession(), 'owner').user,
                'a verified owner keeps its session');

            const c = client();
            const again = await follow(c, link);
            assert.equal(again.pathname, '/home');
            assert.equal(again.searchParams.get('error'), 'INVALID_TOKEN', `reuse → ${again}`);
            assert.equal(jarOf(c).get(COOKIE), undefined, 'no session from a used link');
        });

    test('unknown email signs up on verify and goes to newUserCallbackURL', async () => {
        const email = newEmail('mlnew');
        const c = client();
        const link = await mailedLink(c, {
            email, name: 'Link User', callbackURL: '/home', newUserCallbackURL: '/welcome',
        });
        const loc = await follow(c, link);
        assert.equal(loc.pathname, '/welcome', `→ ${loc}`);
        const s = ok(await c.getSession(), 'get-session');
        assert.equal(s.user.email, email);
        assert.equal(s.user.name, 'Link User');
        assert.equal(s.user.emailVerified, true);
    });

    test('an unverified account adopted by magic link loses the squatter\'s password and sessions',
        async () => {
            const squatter = client();
            const { email } = await signUpNew(squatter, { tag: 'mlsquat' });
            assert.ok((await squatter.getSession()).data, 'squatter signed in');

            const victim = client();
            const link = await mailedLink(victim, { email, callbackURL: '/home' });
            const loc = await follow(victim, link);
            assert.equal(loc.searchParams.get('error'), null, `→ ${loc}`);
            assert.equal(ok(await victim.getSession(), 'victim').user.emailVerified, true);

            assert.equal((await squatter.getSession()).data, null, 'squatter session revoked');
            assertClientError(await client().signIn.email({ email, password: STRONG }),
                401, 'INVALID_EMAIL_OR_PASSWORD', 'squatter password');
        });

    test('an untrusted callbackURL is 403 INVALID_CALLBACK_URL and sends no mail', async () => {
        const email = newEmail('mlevil');
        const c = client();
        const res = await c.signIn.magicLink({ email, callbackURL: 'https://evil.example/x' });
        assertClientError(res, 403, 'INVALID_CALLBACK_URL', 'evil callbackURL');
        await assert.rejects(stack.mail.waitFor(email, { timeout: 500 }), /no mail/);
    });

    test('a made-up token redirects with error=INVALID_TOKEN', async () => {
        const c = client();
        const loc = await follow(c, `${stack.authURL}/magic-link/verify?token=` +
            `abcdefghijklmnopqrstuvwxyzABCDEF&callbackURL=${encodeURIComponent('/home')}`);
        assert.equal(loc.searchParams.get('error'), 'INVALID_TOKEN', `→ ${loc}`);
        assert.equal(jarOf(c).get(COOKIE), undefined);
    });
});
