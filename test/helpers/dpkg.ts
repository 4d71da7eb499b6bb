// Real dpkg for tests: a host root with a dpkg database, and an upgrade (the package
// manager's own way of replacing a file) or removal of its livetree-demo.
import {execFile} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import {readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {FIXTURES, type Fixtures} from './fixture.js';

const run = promisify(execFile);

/**
 * Upgrade livetree-demo in ROOT to VERSION-1 with the real `dpkg --root -i` of a package
 * built by `dpkg-deb --build`: dpkg unpacks the new libdemo.so.1 (other bytes) beside the old
 * one and renames it over, as `apt upgrade` does on a host.
 */
export async function dpkgUpgrade(fx: Fixtures, root: string, version: string): Promise<void> {
	const work = await fx.tempDir('livetree-deb-');
	const pkg = join(work, 'pkg');
	await run('mkdir', ['-p', join(pkg, 'DEBIAN'), join(pkg, 'usr/lib/livetree-demo'), join(pkg, 'usr/share/livetree-demo')]);
	const lib = await readFile(join(root, 'usr/lib/livetree-demo/libdemo.so.1'));
	await writeFile(join(pkg, 'usr/lib/livetree-demo/libdemo.so.1'), Buffer.concat([lib, Buffer.from(`livetree-demo ${version}`)]));
	await writeFile(join(pkg, 'usr/share/livetree-demo/version'), version);
	await writeFile(
		join(pkg, 'DEBIAN/control'),
		`Package: livetree-demo\nVersion: ${version}-1\nArchitecture: amd64\nSource: livetree-demo-src (${version})\nMaintainer: livetree tests <root@localhost>\nDescription: livetree demo library\n an upgrade for livetree's tests.\n`,
	);
	await run('dpkg-deb', ['--root-owner-group', '--build', pkg, join(work, 'demo.deb')]);
	await run('dpkg', [`--root=${root}`, '--force-unsafe-io', '-i', join(work, 'demo.deb')]);
}

/** Remove livetree-demo from ROOT with the real `dpkg --root --remove`: its files go, nothing takes their paths. */
export async function dpkgRemove(root: string): Promise<void> {
	await run('dpkg', [`--root=${root}`, '--force-unsafe-io', '--force-depends', '--remove', 'livetree-demo']);
}

/**
 * A host root without OSTree, in a directory of fx's: a make-tree.sh tree (a marker of its
 * own, `NAME-UUID`, so that no other test's tree holds the same objects) with livetree-demo
 * VERSION-1 installed by the real `dpkg --root` and its database in var/lib/dpkg.
 */
export async function dpkgHostRoot(fx: Fixtures, version: string, name: string): Promise<string> {
	const root = join(await fx.tempDir(`livetree-${name}-root-`), 'root');
	await run(join(FIXTURES, 'make-tree.sh'), [root, '--version', version, '--marker', `${name}-${randomUUID()}`]);
	await run(join(FIXTURES, 'dpkg-tree.sh'), [root, version, 'var/lib/dpkg']);
	return root;
}
