// Real podman for the container tests: a private store (--root/--runroot under a scratch
// directory) per test, images made locally (no registry here), .debs built by dpkg-deb.
// The test may call podman as much as it likes; livetree itself never does.
//
// This machine's podman runs with runc (crun fails: "cgroups in hybrid mode not
// supported"), the cgroupfs manager and file events, and default ulimits it may set
// (shared/notes/real-environment.md, "Containers"). `cleanup()` removes every container
// (podman stops its own processes), every image and the scratch directory.
import {execFile} from 'node:child_process';
import {chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import type {Process} from '../../src/model/document.js';
import {projectRoot} from './cli.js';

const execFileP = promisify(execFile);

const containersConf = `[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[containers]
default_ulimits = ["nofile=1024:4096", "nproc=4096:4096"]
`;

export async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
	const {stdout} = await execFileP(cmd, args, {env: {...process.env, ...env}, maxBuffer: 64 << 20});
	return stdout;
}

// The cached Debian 12 minbase tarball (scripts/debian-userland.sh builds it once).
export async function debianTarball(): Promise<string> {
	return (await run(join(projectRoot, 'scripts/debian-userland.sh'), [])).trim();
}

/** A .deb of `livetree-demo VERSION-1` whose libdemo.so.1 is a real shared library (LD_PRELOAD-able). */
export async function buildDemoDeb(dir: string, version: string): Promise<string> {
	const pkg = join(dir, `deb-${version}`);
	await mkdir(join(pkg, 'DEBIAN'), {recursive: true});
	await mkdir(join(pkg, 'usr/lib/livetree-demo'), {recursive: true});
	const source = join(dir, `demo-${version}.c`);
	await writeFile(source, `const char *livetree_demo_version(void) { return "${version}"; }\n`);
	await run('gcc', ['-shared', '-fPIC', '-o', join(pkg, 'usr/lib/livetree-demo/libdemo.so.1'), source]);
	await writeFile(
		join(pkg, 'DEBIAN/control'),
		`Package: livetree-demo\nVersion: ${version}-1\nArchitecture: amd64\nMaintainer: livetree tests <root@localhost>\nDescription: livetree demo library\n for the container tests.\n`,
	);
	const deb = join(dir, `livetree-demo_${version}-1_amd64.deb`);
	await run('dpkg-deb', ['--root-owner-group', '--build', pkg, deb]);
	return deb;
}

export interface ContainerInspect {
	Id: string;
	Name: string;
	Image: string;
	ImageName: string;
	State: {Pid: number};
	GraphDriver: {Data: {LowerDir: string; UpperDir: string}};
}

export interface ImageInspect {
	Id: string;
	Digest: string;
	RootFS: {Layers: string[]};
}

export class PodmanStore {
	readonly root: string;
	readonly runroot: string;
	private readonly env: NodeJS.ProcessEnv;

	private constructor(
		readonly dir: string,
		conf: string,
		private readonly storageOptions: string[],
		private readonly user?: string,
	) {
		// A rootless user's store lies in its home, its run root in its runtime directory.
		this.root = user ? join(dir, 'home/store') : join(dir, 'root');
		this.runroot = user ? join(dir, 'rt/run') : join(dir, 'runroot');
		this.env = user ? {CONTAINERS_CONF: conf, HOME: join(dir, 'home'), XDG_RUNTIME_DIR: join(dir, 'rt')} : {CONTAINERS_CONF: conf};
	}

	/**
	 * A store of its own; `fuse`: mounted by fuse-overlayfs (mountinfo then lists no layers);
	 * `imageStore`: another store's graph root read as an additional (read-only) image store,
	 * as bootc hosts read /usr/lib/bootc/storage.
	 */
	static async create(options: {fuse?: boolean; imageStore?: string; rootless?: string} = {}): Promise<PodmanStore> {
		const dir = await mkdtemp(join(tmpdir(), 'livetree-podman-'));
		const conf = join(dir, 'containers.conf');
		await writeFile(conf, containersConf);
		const opts = [
			...(options.fuse ? ['--storage-opt', 'overlay.mount_program=/usr/bin/fuse-overlayfs'] : []),
			...(options.imageStore ? ['--storage-opt', `additionalimagestore=${options.imageStore}`] : []),
			// A user with no subordinate IDs maps one ID only: files of other owners in the
			// image are extracted as that user's.
			...(options.rootless ? ['--storage-opt', 'overlay.ignore_chown_errors=true'] : []),
		];
		if (options.rootless) {
			// The user must reach its home and runtime directory; the runtime one is its alone.
			await chmod(dir, 0o755);
			await chmod(conf, 0o644);
			await mkdir(join(dir, 'home'));
			await mkdir(join(dir, 'rt'), {mode: 0o700});
			await run('chown', [options.rootless, join(dir, 'home'), join(dir, 'rt')]);
		}

		return new PodmanStore(dir, conf, opts, options.rootless);
	}

	/** The command line of `podman ARGS` on this store (as its user, when rootless). */
	argv(args: string[]): string[] {
		const env = Object.entries(this.env).map(([k, v]) => `${k}=${v ?? ''}`);
		const podman = ['env', ...env, 'podman', '--root', this.root, '--runroot', this.runroot, '--storage-driver', 'overlay', ...this.storageOptions, ...args];
		return this.user ? ['runuser', '-u', this.user, '--', ...podman] : podman;
	}

	async podman(args: string[]): Promise<string> {
		const [cmd, ...rest] = this.argv(args);
		return run(cmd!, rest);
	}

	/** A --state-dir for livetree beside the store (removed with it). */
	async stateDir(): Promise<string> {
		const state = join(this.dir, 'state');
		await mkdir(state);
		return state;
	}

	/**
	 * The `container` record livetree gives of container C of this store, run from image
	 * IMAGE (its ID, DIGEST its digest) while C's image name still resolves to it, outside
	 * any unit.
	 */
	currentRecord(c: ContainerInspect, image: string, digest: string): NonNullable<Process['container']> {
		return {
			engine: 'podman',
			id: c.Id,
			name: c.Name,
			image: {id: image, digest, name: c.ImageName, nameNowResolvesTo: image},
			imageOutdated: false,
			storageRoot: this.root,
			unit: null,
		};
	}

	/** `podman container inspect NAME`, the fields the tests compare with. */
	async container(name: string): Promise<ContainerInspect> {
		return (JSON.parse(await this.podman(['container', 'inspect', name])) as ContainerInspect[])[0]!;
	}

	/** `podman image inspect NAME`, the fields the tests compare with. */
	async image(name: string): Promise<ImageInspect> {
		return (JSON.parse(await this.podman(['image', 'inspect', name])) as ImageInspect[])[0]!;
	}

	/** What `dpkg-query` says of PKG's version inside IMAGE (a throwaway container) or inside a running CONTAINER. */
	async dpkgVersion(where: {image?: string; container?: string}, pkg: string): Promise<string> {
		// dpkg-query's own format (not a JavaScript template): the version alone.
		const query = ['dpkg-query', '-W', `-f=${'$'}{Version}`, pkg];
		// podman run can lose a short-lived container's output under load (seen once in CI:
		// exit 0 and nothing printed); a version is never empty, so an empty answer is asked
		// again, and one that stays empty fails here rather than as a wrong expectation.
		for (let attempt = 1; attempt <= 3; attempt++) {
			const version = (
				where.image ? await this.podman(['run', '--rm', '--network', 'none', where.image, ...query]) : await this.podman(['exec', where.container!, ...query])
			).trim();
			if (version !== '') return version;
		}

		throw new Error(`dpkg-query printed no version of ${pkg} in ${where.image ?? where.container!}, three times`);
	}

	/** Import the cached Debian tarball as IMAGE (a one-layer base). */
	async importBase(image: string): Promise<void> {
		await this.podman(['import', '--change', 'CMD ["/bin/bash"]', await debianTarball(), image]);
	}

	/** Build IMAGE FROM base, installing DEB with `RUN dpkg -i` (no network). */
	async buildWithDeb(image: string, base: string, deb: string): Promise<string> {
		const ctx = await mkdtemp(join(this.dir, 'build-'));
		await run('cp', [deb, join(ctx, 'demo.deb')]);
		await writeFile(join(ctx, 'Containerfile'), `FROM ${base}\nCOPY demo.deb /tmp/demo.deb\nRUN dpkg -i /tmp/demo.deb && rm /tmp/demo.deb\n`);
		await this.podman(['build', '--network', 'none', '-q', '-t', image, ctx]);
		return (await this.image(image)).Id;
	}

	/** Run a container NAME from IMAGE whose main process maps libdemo.so.1; its PID. */
	async runDemo(name: string, image: string): Promise<number> {
		await this.podman(['run', '-d', '--network', 'none', '--name', name, image, 'env', 'LD_PRELOAD=/usr/lib/livetree-demo/libdemo.so.1', 'sleep', 'infinity']);
		return (await this.container(name)).State.Pid;
	}

	async cleanup(): Promise<void> {
		try {
			await this.podman(['rm', '--all', '--force', '--time', '0']);
			await this.podman(['rmi', '--all', '--force']);
		} finally {
			// Rootless podman leaves a pause process holding its user namespace: end it by PID.
			const pause = await readFile(join(this.dir, 'rt/libpod/tmp/pause.pid'), 'utf8').catch(() => '');
			if (this.user && /^\d+$/.test(pause.trim())) {
				try {
					process.kill(Number(pause.trim()), 'SIGKILL');
				} catch {}
			}

			await rm(this.dir, {recursive: true, force: true});
		}
	}
}

/** The PIDs in container ID's cgroup (`libpod-ID`), from each process's `/proc/PID/cgroup`. */
export async function containerPids(id: string): Promise<number[]> {
	const pids: number[] = [];
	for (const name of await readdir('/proc')) {
		if (!/^\d+$/.test(name)) {
			continue;
		}

		const cgroup = await readFile(`/proc/${name}/cgroup`, 'utf8').catch(() => '');
		if (cgroup.includes(`libpod-${id}`)) {
			pids.push(Number(name));
		}
	}

	return pids;
}
