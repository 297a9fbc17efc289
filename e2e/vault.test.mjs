// Encryption vault (WIRE.md 2.3) with plain fetch and the session cookie;
// the recovery wrap is built and opened with WebCrypto, as a browser does.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { jarOf, jsonOf, makeClient, signUpNew, startStack } from './lib/harness.mjs';

const { subtle } = globalThis.crypto;

let stack;

before(async () => {
    stack = await startStack();
});

after(async () => {
    if (stack) await stack.stop();
});

/** A signed-in browser; returns vault(method, path, body) → {status, body}. */
async function vaultUser(tag) {
    const c = makeClient(stack);
    await signUpNew(c, { tag });
    return async (method, path, body) => {
        const headers = { cookie: jarOf(c).header(), origin: stack.origin };
        if (body !== undefined) headers['content-type'] = 'application/json';
        const res = await fetch(`${stack.baseURL}/api/v1/me/encryption-vault${path}`, {
            method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: await jsonOf(res) };
    };
}

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));

/** Wraps the MK under a fresh recovery key with AES-256-GCM, no AAD. */
async function recoveryWrap(mk) {
    const raw = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const key = await subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
    const wrapped = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, key, mk));
    return { key, iv, wrapped };
}

/** Asserts a vault error answer. */
function assertVaultError(r, status, code, what) {
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, code, `${what}: ${JSON.stringify(r.body)}`);
}

describe('encryption vault', () => {
    test('init is idempotent and /key returns the same MK', async () => {
        const vault = await vaultUser('vkey');
        const st0 = await vault('GET', '/status');
        assert.equal(st0.status, 200, JSON.stringify(st0.body));
        assert.equal(st0.body.vaultExists, false);
        assertVaultError(await vault('GET', '/key'), 404, 'VAULT_NOT_INITIALIZED',
            'key before init');

        const init = await vault('POST', '/init');
        assert.equal(init.status, 200, JSON.stringify(init.body));
        assert.equal(unb64(init.body.masterKey).length, 32);
        assert.equal(typeof init.body.formatVersion, 'number');
        assert.equal(typeof init.body.kekId, 'string');

        const again = await vault('POST', '/init');
        assert.equal(again.body.masterKey, init.body.masterKey, 'init returns the existing key');
        const key = await vault('GET', '/key');
        assert.equal(key.status, 200, JSON.stringify(key.body));
        assert.equal(key.body.masterKey, init.body.masterKey);

        const st = await vault('GET', '/status');
        assert.deepEqual({ v: st.body.vaultExists, r: st.body.hasRecoveryWrap,
            z: st.body.zeroKnowledge }, { v: true, r: false, z: false });

        // Another user has a different key.
        const other = await vaultUser('vkey2');
        const o = await other('POST', '/init');
        assert.notEqual(o.body.masterKey, init.body.masterKey);
    });

    test('zero-knowledge round trip with a WebCrypto recovery wrap', async () => {
        const vault = await vaultUser('vzk');
        const init = await vault('POST', '/init');
        assert.equal(init.status, 200, JSON.stringify(init.body));
        const mk = unb64(init.body.masterKey);

        assertVaultError(await vault('POST', '/zero-knowledge', { enable: true }),
            400, 'RECOVERY_WRAP_MISSING', 'zero-knowledge without a recovery wrap');
        assertVaultError(await vault('POST', '/recovery-wrap',
            { recoveryWrappedMk: b64(new Uint8Array(10)), recoveryIv: b64(new Uint8Array(12)) }),
        400, 'INVALID_RECOVERY_WRAP', 'a wrap of the wrong length');

        const { key, iv, wrapped } = await recoveryWrap(mk);
        assert.equal(wrapped.length, 48);
        const rw = await vault('POST', '/recovery-wrap',
            { recoveryWrappedMk: b64(wrapped), recoveryIv: b64(iv) });
        assert.equal(rw.status, 200, JSON.stringify(rw.body));
        assert.equal(rw.body.hasRecoveryWrap, true);
        assert.ok(!Number.isNaN(Date.parse(rw.body.recoverySetAt)),
            `recoverySetAt ${rw.body.recoverySetAt}`);

        const zk = await vault('POST', '/zero-knowledge', { enable: true });
        assert.equal(zk.status, 200, JSON.stringify(zk.body));
        assert.deepEqual(zk.body, { zeroKnowledge: true });

        const k = await vault('GET', '/key');
        assert.equal(k.status, 200, JSON.stringify(k.body));
        assert.equal(k.body.requiresRecoveryCode, true);
        assert.equal(k.body.masterKey, undefined, 'the server no longer has the MK');
        const opened = new Uint8Array(await subtle.decrypt(
            { name: 'AES-GCM', iv: unb64(k.body.recoveryIv) }, key,
            unb64(k.body.recoveryWrappedMk)));
        assert.deepEqual(Buffer.from(opened), Buffer.from(mk), 'the recovery wrap opens to the MK');

        assertVaultError(await vault('POST', '/rotate'), 409, 'ZK_ROTATE_FORBIDDEN',
            'rotate in ZK');
        assertVaultError(await vault('DELETE', '/recovery-wrap'), 409, 'ZK_ACTIVE',
            'delete recovery wrap in ZK');
        const st = await vault('GET', '/status');
        assert.equal(st.body.zeroKnowledge, true);
        assert.equal(st.body.hasRecoveryWrap, true);

        // Disabling takes the MK back from the client.
        assertVaultError(await vault('POST', '/zero-knowledge',
            { enable: false, masterKey: b64(new Uint8Array(5)) }),
        400, 'INVALID_MASTER_KEY', 'disable with a short key');
        const off = await vault('POST', '/zero-knowledge',
            { enable: false, masterKey: b64(opened) });
        assert.equal(off.status, 200, JSON.stringify(off.body));
        assert.deepEqual(off.body, { zeroKnowledge: false });
        const back = await vault('GET', '/key');
        assert.equal(back.body.masterKey, init.body.masterKey, 'the server holds the MK again');
    });

    test('rotate gives a fresh MK; recovery wrap can be deleted outside ZK', async () => {
        const vault = await vaultUser('vrot');
        const init = await vault('POST', '/init');
        const rot = await vault('POST', '/rotate');
        assert.equal(rot.status, 200, JSON.stringify(rot.body));
        assert.notEqual(rot.body.masterKey, init.body.masterKey);
        assert.equal((await vault('GET', '/key')).body.masterKey, rot.body.masterKey);

        const { iv, wrapped } = await recoveryWrap(unb64(rot.body.masterKey));
        assert.equal((await vault('POST', '/recovery-wrap',
            { recoveryWrappedMk: b64(wrapped), recoveryIv: b64(iv) })).status, 200);
        const del = await vault('DELETE', '/recovery-wrap');
        assert.equal(del.status, 200, JSON.stringify(del.body));
        assert.deepEqual(del.body, { hasRecoveryWrap: false });
    });

    test('without a session every route is 401', async () => {
        for (const [m, p] of [['GET', '/status'], ['POST', '/init'], ['GET', '/key']]) {
            const r = await fetch(`${stack.baseURL}/api/v1/me/encryption-vault${p}`, {
                method: m, headers: { origin: stack.origin },
            });
            assert.equal(r.status, 401, `${m} ${p}`);
        }
    });

    test('concurrent /init calls create exactly one key', async () => {
        const vault = await vaultUser('vrace');
        const all = await Promise.all(Array.from({ length: 8 }, () => vault('POST', '/init')));
        for (const r of all) assert.equal(r.status, 200, JSON.stringify(r.body));
        const keys = new Set(all.map((r) => r.body.masterKey));
        assert.equal(keys.size, 1, `one MK for all racers, got ${keys.size}`);
        assert.equal((await vault('GET', '/key')).body.masterKey, all[0].body.masterKey);
    });
});
