// An OSTree commit whose tree carries a real dpkg database (make-tree.sh + dpkg-tree.sh +
// ostree commit): its libdemo belongs to livetree-demo VERSION-1.
import {execFile} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {FIXTURES, type Fixtures, type SysrootHandle} from './fixture.js';

const run = promisify(execFile);

export async function commitWithDb(fx: Fixtures, s: SysrootHandle, version: string): Promise<string> {
	const tree = await fx.tempDir('livetree-dpkg-commit-');
	// A marker of our own, so that no other test's tree holds the very same objects.
	await run(join(FIXTURES, 'make-tree.sh'), [tree, '--version', version, '--marker', `dpkg-commit-${version}-${randomUUID()}`]);
	await run(join(FIXTURES, 'dpkg-tree.sh'), [tree, version]);
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
