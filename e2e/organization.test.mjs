// Organizations through organizationClient: create, activate, invite by
// real mail, accept, roles and permissions, remove, leave, delete.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { organizationClient } from 'better-auth/client/plugins';

import {
    assertClientError, jarOf, linkIn, makeClient, ok, randomId, signUpNew, startStack,
    verifyEmailOf,
} from './lib/harness.mjs';

let stack;

before(async () => {
    stack = await startStack();
});

after(async () => {
    if (stack) await stack.stop();
});

const client = () => makeClient(stack, { plugins: [organizationClient()] });

/** A signed-up user with a verified email: {c, email, user}. */
async function person(tag, { verified = true } = {}) {
    const c = client();
    const { email, data } = await signUpNew(c, { tag });
    if (verified) await verifyEmailOf(stack, c, email);
    return { c, email, user: data.user };
}

/** Invites `who` and returns the invitation id taken from the mailed link. */
async function inviteByMail(inviter, orgId, who, role) {
    const inv = ok(await inviter.organization.inviteMember({
        email: who.email, role, organizationId: orgId,
    }), `invite ${who.email}`);
    assert.equal(inv.email, who.email);
    assert.equal(inv.role, role);
    assert.equal(inv.status, 'pending');
    assert.equal(inv.organizationId, orgId);
    const hours = (new Date(inv.expiresAt).getTime() - Date.now()) / 3_600_000;
    assert.ok(hours > 47.9 && hours <= 48, `48-hour expiry, got ${hours} h`);

    const mail = await stack.mail.waitFor(who.email, { match: /accept-invitation/ });
    const link = new URL(linkIn(mail, '/accept-invitation'));
    const id = decodeURIComponent(link.pathname.split('/').pop());
    assert.equal(id, inv.id, `the mailed link names the invitation: ${link}`);
    return id;
}

/** has-permission for the caller in orgId. */
async function can(c, orgId, permissions) {
    const d = ok(await c.organization.hasPermission({ permissions, organizationId: orgId }),
        `has-permission ${JSON.stringify(permissions)}`);
    assert.equal(d.error, null);
    assert.equal(typeof d.success, 'boolean');
    return d.success;
}

describe('organization', () => {
    test('create → invite by mail → accept → roles → remove → leave → delete', async () => {
        const owner = await person('orgowner');
        const bob = await person('orgbob', { verified: false });
        const carol = await person('orgcarol');

        // Create and activate.
        const slug = `acme-${randomId(6)}`;
        assert.deepEqual(ok(await owner.c.organization.checkSlug({ slug }), 'check-slug'),
            { status: true });
        const org = ok(await owner.c.organization.create({ name: 'Acme', slug }), 'create');
        assert.equal(org.slug, slug);
        assert.equal(org.name, 'Acme');
        assert.equal(org.members.length, 1);
        assert.equal(org.members[0].role, 'owner');
        assert.equal(org.members[0].userId, owner.user.id);
        assertClientError(await owner.c.organization.checkSlug({ slug }),
            400, 'ORGANIZATION_SLUG_ALREADY_TAKEN', 'check-slug taken');

        const active = ok(await owner.c.organization.setActive({ organizationId: org.id }),
            'set-active');
        assert.equal(active.id, org.id);
        const s = ok(await owner.c.getSession(), 'get-session');
        assert.equal(s.session.activeOrganizationId, org.id);
        const list = ok(await owner.c.organization.list(), 'list');
        assert.deepEqual(list.map((o) => o.id), [org.id]);

        // Invite Bob; he must verify his email before he can accept.
        const bobInv = await inviteByMail(owner.c, org.id, bob, 'member');
        const carolInv = await inviteByMail(owner.c, org.id, carol, 'member');
        assertClientError(await owner.c.organization.inviteMember({
            email: bob.email, role: 'member', organizationId: org.id,
        }), 400, 'USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION', 'invite twice');

        assertClientError(await carol.c.organization.acceptInvitation({ invitationId: bobInv }),
            403, 'YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION', 'carol accepts bob\'s invitation');
        assertClientError(await bob.c.organization.acceptInvitation({ invitationId: bobInv }),
            403, 'EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION',
            'unverified bob accepts');
        await verifyEmailOf(stack, bob.c, bob.email);

        const acc = ok(await bob.c.organization.acceptInvitation({ invitationId: bobInv }),
            'accept (bob)');
        assert.equal(acc.invitation.status, 'accepted');
        assert.equal(acc.member.userId, bob.user.id);
        assert.equal(acc.member.role, 'member');
        assert.equal(ok(await bob.c.getSession(), 'bob session').session.activeOrganizationId,
            org.id, 'accepting activates the organization');
        ok(await carol.c.organization.acceptInvitation({ invitationId: carolInv }),
            'accept (carol)');

        // Members.
        const lm = ok(await owner.c.organization.listMembers({
            query: { organizationId: org.id },
        }), 'list-members');
        assert.equal(lm.total, 3);
        const byUser = new Map(lm.members.map((m) => [m.userId, m]));
        assert.equal(byUser.get(owner.user.id).role, 'owner');
        assert.equal(byUser.get(bob.user.id).user.email, bob.email);
        const bobMember = byUser.get(bob.user.id);
        const carolMember = byUser.get(carol.user.id);

        // Permissions: owner, member, admin.
        assert.equal(await can(owner.c, org.id, { organization: ['delete'] }), true);
        assert.equal(await can(owner.c, org.id, { member: ['update'] }), true);
        assert.equal(await can(bob.c, org.id, { member: ['update'] }), false);
        assert.equal(await can(bob.c, org.id, { ac: ['read'] }), true);
        assertClientError(await bob.c.organization.updateMemberRole({
            memberId: bobMember.id, role: 'admin', organizationId: org.id,
        }), 403, 'YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER', 'member raises own role');

        const up = ok(await owner.c.organization.updateMemberRole({
            memberId: bobMember.id, role: 'admin', organizationId: org.id,
        }), 'update-member-role');
        assert.equal(up.role, 'admin');
        assert.equal(up.id, bobMember.id);
        assert.equal(await can(bob.c, org.id, { member: ['update'] }), true);
        assert.equal(await can(bob.c, org.id, { invitation: ['create'] }), true);
        assert.equal(await can(bob.c, org.id, { organization: ['delete'] }), false);
        assert.equal(await can(bob.c, org.id, { organization: ['update', 'delete'] }), false,
            'AND over actions');

        // Remove Carol (as admin Bob), then Carol is out.
        const rm = ok(await bob.c.organization.removeMember({
            memberIdOrEmail: carolMember.id, organizationId: org.id,
        }), 'remove-member');
        assert.equal(rm.member.id, carolMember.id);
        assertClientError(await carol.c.organization.hasPermission({
            permissions: { ac: ['read'] }, organizationId: org.id,
        }), 401, 'USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION', 'removed member');

        // The only owner cannot leave; Bob can.
        assertClientError(await owner.c.organization.leave({ organizationId: org.id }),
            400, 'YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER', 'last owner leaves');
        ok(await bob.c.organization.leave({ organizationId: org.id }), 'leave (bob)');
        assert.equal(ok(await owner.c.organization.listMembers({
            query: { organizationId: org.id },
        }), 'list-members after').total, 1);

        // Delete.
        const del = ok(await owner.c.organization.delete({ organizationId: org.id }), 'delete');
        assert.equal(del.id, org.id);
        assert.deepEqual(ok(await owner.c.organization.list(), 'list after delete'), []);
        const after = ok(await owner.c.getSession(), 'get-session after delete');
        assert.ok(!after.session.activeOrganizationId, 'active organization cleared');
    });

    test('an outsider gets the same answer for a foreign and a missing organization',
        async () => {
            const owner = await person('orgiso');
            const outsider = await person('orgout', { verified: false });
            const org = ok(await owner.c.organization.create({
                name: 'Private', slug: `private-${randomId(6)}`,
            }), 'create');
            const foreign = await outsider.c.organization.setActive({ organizationId: org.id });
            const missing = await outsider.c.organization.setActive({
                organizationId: `nope${randomId(20)}`,
            });
            assert.ok(foreign.error, `set-active foreign: ${JSON.stringify(foreign)}`);
            assert.equal(foreign.error.status, missing.error?.status);
            assert.equal(foreign.error.code, missing.error?.code);
            const full = await outsider.c.organization.getFullOrganization({
                query: { organizationId: org.id },
            });
            assert.ok(full.error || full.data === null, `get-full: ${JSON.stringify(full)}`);
            const inviteAs = (organizationId) => outsider.c.organization.inviteMember({
                email: outsider.email, role: 'owner', organizationId,
            });
            const fi = await inviteAs(org.id);
            const mi = await inviteAs('nope' + randomId(20));
            assert.equal(fi.data, null, `outsider invites: ${JSON.stringify(fi)}`);
            assert.ok(fi.error.status >= 400 && fi.error.status < 500);
            assert.deepEqual([fi.error.status, fi.error.code], [mi.error?.status, mi.error?.code],
                'invite: foreign and missing organization answer alike');
            await assert.rejects(stack.mail.waitFor(outsider.email, {
                timeout: 300, match: /accept-invitation/,
            }), /no mail/);
        });

    test('internal membership API needs the service key', async () => {
        const owner = await person('orgint', { verified: false });
        const stranger = await person('orgstr', { verified: false });
        const org = ok(await owner.c.organization.create({
            name: 'Internal', slug: `internal-${randomId(6)}`,
        }), 'create');
        const ask = (userId, key) => fetch(
            `${stack.baseURL}/api/v1/internal/org/${org.id}/member/${userId}`,
            { headers: key === undefined ? {} : { 'x-service-key': key } });

        const yes = await ask(owner.user.id, stack.env.MANA_SERVICE_KEY);
        assert.equal(yes.status, 200);
        assert.deepEqual(await yes.json(), { isMember: true, role: 'owner' });
        const no = await ask(stranger.user.id, stack.env.MANA_SERVICE_KEY);
        assert.equal(no.status, 200);
        assert.deepEqual(await no.json(), { isMember: false, role: null });

        for (const [what, key] of [['missing', undefined], ['empty', ''],
            ['wrong', `${stack.env.MANA_SERVICE_KEY.slice(0, -1)}x`]]) {
            const r = await ask(owner.user.id, key);
            assert.equal(r.status, 401, `${what} key`);
        }
        // A session cookie is no substitute for the key.
        const r = await fetch(
            `${stack.baseURL}/api/v1/internal/org/${org.id}/member/${owner.user.id}`,
            { headers: { cookie: jarOf(owner.c).header() } });
        assert.equal(r.status, 401, 'session instead of key');
    });
});
