// Harness for the black-box suite: a real SMTP server, a real mana-auth
// process, and better-auth clients that each keep their own cookie jar
// (one client = one browser).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createAuthClient } from 'better-auth/client';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

const BIN = process.env.MANA_AUTH_BIN ||
    fileURLToPath(new URL('../.bin/mana-auth', import.meta.url));

/** Password that is long, not common, and valid everywhere. */
export const STRONG = 'Kx9!mauve-Otter-Parade';

/** Returns n random characters from [a-z0-9]. */
export function randomId(n = 10) {
    const abc = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const b = randomBytes(n);
    let s = '';
    for (let i = 0; i < n; i++) s += abc[b[i] % abc.length];
    return s;
}

/** Returns a fresh address on the test domain. */
export function newEmail(tag = 'user') {
    return `${tag}.${randomId()}@mana.test`;
}

// ---------------------------------------------------------------- SMTP

/**
 * Starts an in-process SMTP server on 127.0.0.1:0 (no auth, no TLS) that
 * parses every message with mailparser. `waitFor(to, {timeout, match})`
 * resolves with the first not yet taken message for that recipient (and
 * matching `match`, a RegExp on text+html or a predicate), and removes it.
 */
export async function startMailServer() {
    const inbox = [];
    const waiters = [];

    const deliver = (mail) => {
        for (let i = 0; i < waiters.length; i++) {
            if (waiters[i].accepts(mail)) {
                const [w] = waiters.splice(i, 1);
                w.resolve(mail);
                return;
            }
        }
        inbox.push(mail);
    };

    const server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        secure: false,
        logger: false,
        size: 1 << 20,
        onData(stream, session, callback) {
            simpleParser(stream).then((parsed) => {
                const rcpt = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
                deliver({
                    to: rcpt,
                    from: session.envelope.mailFrom && session.envelope.mailFrom.address,
                    subject: parsed.subject || '',
                    text: parsed.text || '',
                    html: typeof parsed.html === 'string' ? parsed.html : '',
                    headers: parsed.headers,
                    parsed,
                });
                callback();
            }, (err) => callback(err));
        },
    });
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.server.address();

    const accepts = (to, match) => (mail) => {
        if (!mail.to.includes(to.toLowerCase())) return false;
        if (!match) return true;
        if (match instanceof RegExp) return match.test(mail.text) || match.test(mail.html);
        return match(mail);
    };

    return {
        port,
        inbox,
        /** Waits for a message to `to`; rejects after `timeout` ms. */
        waitFor(to, { timeout = 5000, match } = {}) {
            const ok = accepts(to, match);
            const i = inbox.findIndex(ok);
            if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
            return new Promise((resolve, reject) => {
                const w = { accepts: ok, resolve };
                waiters.push(w);
                setTimeout(() => {
                    const j = waiters.indexOf(w);
                    if (j < 0) return;
                    waiters.splice(j, 1);
                    reject(new Error(`no mail to ${to} within ${timeout} ms ` +
                        `(inbox holds ${inbox.length}: ` +
                        `${inbox.map((m) => `${m.to}: ${m.subject}`).join('; ')})`));
                }, timeout);
            });
        },
        close: () => new Promise((resolve) => server.close(() => resolve())),
    };
}

/**
 * Returns the first http(s) URL in the mail (text, then html) whose text
 * contains `fragment`, with HTML entities in it decoded.
 */
export function linkIn(mail, fragment) {
    const re = /https?:\/\/[^\s"'<>)\]]+/g;
    for (const body of [mail.text, mail.html]) {
        for (const m of body.matchAll(re)) {
            const u = m[0].replace(/&amp;/g, '&').replace(/&#x3D;|&#61;/g, '=');
            if (u.includes(fragment)) return u;
        }
    }
    throw new Error(`no link containing ${fragment} in mail "${mail.subject}":\n${mail.text}`);
}

// -------------------------------------------------------------- server

async function freePort() {
    const srv = createServer();
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address();
    await new Promise((resolve) => srv.close(resolve));
    return port;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the mail server and a mana-auth process against a temp SQLite file
 * (or E2E_DATABASE_URL when set) and waits for /healthz. Returns
 * {baseURL, origin, mail, logs(), stop()}.
 */
export async function startStack({ env = {} } = {}) {
    const mail = await startMailServer();
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'mana-e2e-'));
    const baseURL = `http://127.0.0.1:${port}`;
    const databaseURL = process.env.E2E_DATABASE_URL || `sqlite:${join(dir, 'e2e.db')}`;

    const childEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: process.env.TMPDIR || tmpdir(),
        PORT: String(port),
        BASE_URL: baseURL,
        DATABASE_URL: databaseURL,
        // One secret per run (run.sh sets it): files share the PostgreSQL
        // database, and rows encrypted with the secret (JWKS private keys,
        // TOTP secrets) must stay readable by the next file's server.
        AUTH_SECRET: process.env.E2E_AUTH_SECRET || randomBytes(36).toString('base64'),
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(mail.port),
        SMTP_TLS: 'none',
        SMTP_FROM: 'mana <auth@mana.test>',
        RATE_LIMIT: 'off',
        LOG_LEVEL: 'warn',
        MANA_SERVICE_KEY: randomBytes(24).toString('hex'),
        ...env,
    };

    let log = '';
    const child = spawn(BIN, ['serve'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    let exited = null;
    const exitedP = new Promise((resolve) => child.once('exit', (code, sig) => {
        exited = { code, sig };
        resolve(exited);
    }));
    child.once('error', (err) => { log += `spawn error: ${err.message}\n`; });

    const stop = async () => {
        if (!exited) {
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 5000);
            await exitedP;
            clearTimeout(t);
        }
        await mail.close();
        rmSync(dir, { recursive: true, force: true });
        if (process.env.E2E_VERBOSE && log) process.stderr.write(`--- mana-auth log ---\n${log}`);
    };

    const deadline = Date.now() + 20000;
    for (;;) {
        if (exited) {
            await stop();
            throw new Error(`mana-auth exited (${JSON.stringify(exited)}) before ready:\n${log}`);
        }
        try {
            const r = await fetch(`${baseURL}/healthz`);
            if (r.ok) break;
        } catch { /* not listening yet */ }
        if (Date.now() > deadline) {
            await stop();
            throw new Error(`mana-auth not healthy within 20 s:\n${log}`);
        }
        await sleep(50);
    }

    return {
        baseURL,
        origin: baseURL,
        authURL: `${baseURL}/api/auth`,
        env: childEnv,
        mail,
        logs: () => log,
        stop,
    };
}

// -------------------------------------------------------------- client

/**
 * A cookie jar as a browser keeps one for a single site: Set-Cookie
 * replaces by name, Max-Age=0 (or a past Expires) deletes, values are sent
 * back verbatim.
 */
export class CookieJar {
    constructor() {
        this.cookies = new Map();
        /** Raw Set-Cookie lines of the last response that had any. */
        this.lastSetCookie = [];
        /** Headers of the last response a client call got (makeClient only). */
        this.lastHeaders = null;
    }

    /** Takes the Set-Cookie headers of a fetch Response. */
    store(response) {
        const lines = response.headers.getSetCookie();
        if (lines.length) this.lastSetCookie = lines;
        for (const line of lines) {
            const [pair, ...attrs] = line.split(';');
            const eq = pair.indexOf('=');
            if (eq < 0) continue;
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            let dead = false;
            for (const a of attrs) {
                const [k, v = ''] = a.split('=');
                const key = k.trim().toLowerCase();
                if (key === 'max-age' && Number(v.trim()) <= 0) dead = true;
                if (key === 'expires' && Date.parse(v.trim()) <= Date.now()) dead = true;
            }
            if (dead) this.cookies.delete(name);
            else this.cookies.set(name, value);
        }
    }

    /** Returns the value of a cookie, or undefined. */
    get(name) { return this.cookies.get(name); }

    /** Returns the Cookie header value ('' when empty). */
    header() {
        return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
}

const jars = new WeakMap();

/** Returns the cookie jar of a client made by makeClient. */
export function jarOf(client) {
    const jar = jars.get(client);
    if (!jar) throw new Error('not a client from makeClient');
    return jar;
}

/**
 * Returns a better-auth client for the stack with its own cookie jar, as
 * an app in its own browser would have; `jarOf(client)` returns the jar.
 * `plugins` are client plugins (jwtClient(), twoFactorClient(),
 * magicLinkClient(), organizationClient() from better-auth/client/plugins);
 * their actions then appear on the client (client.token(),
 * client.twoFactor.enable(), client.organization.create(), ...).
 * (The client is a Proxy that turns every property into a route, so the
 * jar cannot hang on it.)
 */
export function makeClient(stack, { origin = stack.origin, plugins = [] } = {}) {
    if (!Array.isArray(plugins)) throw new TypeError('plugins must be an array');
    const jar = new CookieJar();
    const client = createAuthClient({
        baseURL: stack.baseURL,
        plugins,
        fetchOptions: {
            headers: { origin },
            onRequest(ctx) {
                const c = jar.header();
                if (c) ctx.headers.set('cookie', c);
            },
            onResponse(ctx) {
                jar.lastHeaders = ctx.response.headers;
                jar.store(ctx.response);
            },
        },
    });
    jars.set(client, jar);
    return client;
}

/**
 * Raw fetch to the auth server carrying the client's cookies (as the
 * browser would when following a link) and storing what comes back.
 */
export async function browserFetch(client, url, init = {}) {
    const headers = new Headers(init.headers || {});
    const c = jarOf(client).header();
    if (c && !headers.has('cookie')) headers.set('cookie', c);
    const res = await fetch(url, { redirect: 'manual', ...init, headers });
    jarOf(client).store(res);
    return res;
}

/** Signs a new user up through the client; returns {email, password, data}. */
export async function signUpNew(client, { tag = 'user', password = STRONG, name } = {}) {
    const email = newEmail(tag);
    const { data, error } = await client.signUp.email({
        email, password, name: name || `Test ${tag}`,
    });
    if (error) throw new Error(`sign-up failed: ${JSON.stringify(error)}`);
    return { email, password, data };
}

/** Asserts a successful client call and returns its data. */
export function ok(res, what) {
    if (res.error) {
        throw new Error(`${what}: unexpected error ${JSON.stringify(res.error)}`);
    }
    return res.data;
}

/** Asserts a client error with the given status and code, and no data. */
export function assertClientError(res, status, code, what) {
    const got = JSON.stringify(res.error ?? res.data);
    if (res.data !== null || !res.error || res.error.status !== status ||
        res.error.code !== code) {
        throw new Error(`${what}: expected ${status} ${code}, got ${got}`);
    }
}

/**
 * Verifies the signed-in client's email through the real mail: asks for
 * the verification mail, follows its link in the client's browser.
 */
export async function verifyEmailOf(stack, client, email) {
    const { error } = await client.sendVerificationEmail({ email, callbackURL: '/verified' });
    if (error) throw new Error(`send-verification-email: ${JSON.stringify(error)}`);
    const mail = await stack.mail.waitFor(email, { match: /verify-email/ });
    const r = await browserFetch(client, linkIn(mail, '/api/auth/verify-email'));
    const loc = r.headers.get('location') || '';
    if (r.status !== 302 || /[?&]error=/.test(loc)) {
        throw new Error(`verify-email link: ${r.status} ${loc}`);
    }
}

/** Parses a JSON response body, failing with the raw text when it is not JSON. */
export async function jsonOf(res) {
    const text = await res.text();
    try {
        return JSON.parse(text);
    } catch {
        throw new Error(`${res.status} ${res.url}: not JSON: ${text.slice(0, 300)}`);
    }
}
