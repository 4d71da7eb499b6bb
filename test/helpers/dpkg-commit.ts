// An OSTree commit whose tree carries a real package database (make-tree.sh + dpkg-tree.sh,
// or rpm-tree.sh, + ostree commit, like sysroot.sh's commit step): its libdemo belongs to
// livetree-demo VERSION-1.
import {execFile} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {FIXTURES, type Fixtures, type SysrootHandle} from './fixture.js';

const run = promisify(execFile);

export interface CommitDbOptions {
	/** The fixture that writes the database: dpkg-tree.sh (the default) or rpm-tree.sh. */
	script?: 'dpkg-tree.sh' | 'rpm-tree.sh';
	/** Changes the dpkg database (its directory given) before the commit. */
	damage?: (db: string) => Promise<void>;
}

export async function commitWithDb(fx: Fixtures, s: SysrootHandle, version: string, options: CommitDbOptions = {}): Promise<string> {
	const tree = await fx.tempDir('livetree-dpkg-commit-');
	// A marker of our own: other tests' trees of the same version (run concurrently) would
	// otherwise hold the very same libdemo object, and their processes would count too.
	await run(join(FIXTURES, 'make-tree.sh'), [tree, '--version', version, '--marker', `dpkg-commit-${version}-${randomUUID()}`]);
	await run(join(FIXTURES, options.script ?? 'dpkg-tree.sh'), [tree, version]);
	await options.damage?.(join(tree, 'usr/share/dpkg/database'));
	const {stdout} = await run('ostree', [
		`--repo=${join(s.path, 'ostree/repo')}`,
		'commit',
		'-b',
		`${s.osname}/stable`,
		'-s',
		`livetree test ${version}`,
		`--add-metadata-string=version=${version}`,
		tree,
	]);
	return stdout.trim();
}
