// Containers in the terminal report and in `explain`: words for what the core decided
// (which container, which image, whether its name moved on, which layer and package),
// and the command that restarts a container, which livetree names and never runs.
import type {Suggest} from '../commands/rerun.js';
import type {Container, Process} from '../model/document.js';
import {printable} from './reason.js';
import {short} from './short.js';

// "web", or the container's short ID when it has no name (raw: for labels).
export function containerName(c: Container): string {
	return c.name ?? c.id.slice(0, 12);
}

// The same for a terminal: control characters escaped.
function shownName(c: Container): string {
	return printable(containerName(c));
}

// "image localhost/web:latest, tag now points to 675cd2ad06…" — what a reader needs to
// know of the image in one parenthesis.
export function imageNote(c: Container): string {
	const image = c.image;
	if (!image) {
		return `${c.engine}, image unknown`;
	}

	const name = image.name ? printable(image.name) : image.id ? `image ${short(image.id)}` : 'an image';
	const label = image.name ? `image ${name}` : name;
	if (c.imageOutdated === true) {
		return image.nameNowResolvesTo ? `${label}, tag now points to ${short(image.nameNowResolvesTo)}` : `${label}, a name that resolves to no image now`;
	}

	return label;
}

// "in container web (image localhost/web:latest, tag now points to 675cd2ad06…)".
export function inContainer(c: Container): string {
	return `in container ${shownName(c)} (${imageNote(c)})`;
}

const plainSuggest: Suggest = (command, ...args) => ['livetree', command, ...args].join(' ');

// How to restart a container, as a person would: its unit when one runs it; else the
// engine's own command. A container whose image name moved on must be created again from
// that name to run the new image: restarting it keeps the image it was created from.
// `suggest` writes a livetree command with the options that chose what was read. `each`:
// the advice for several containers that say the same thing (container-fold.ts), one
// sentence for all of them that names none (the entry lists their names).
export function restartAdvice(c: Container, procs: readonly Process[], suggest: Suggest = plainSuggest, each = false): string {
	if (c.unit) {
		return `restart unit ${c.unit}${each ? ', which runs them all' : ''} (${suggest('restart', c.unit)})`;
	}

	const name = shownName(c);
	const outdated = procs.some(p => p.files.some(f => f.staleReason === 'image-outdated'));
	switch (c.engine) {
		case 'podman': {
			if (outdated && c.image?.name) {
				return each
					? `create each again from ${printable(c.image.name)} (podman restart would keep its old image); they run in no unit`
					: `create it again from ${printable(c.image.name)} (podman restart ${name} would keep its old image); it runs in no unit`;
			}

			return each
				? 'podman restart each of them (they run in no unit; livetree does not restart containers by itself)'
				: `podman restart ${name} (it runs in no unit; livetree does not restart containers by itself)`;
		}

		case 'docker': {
			return `docker restart ${each ? 'each of them' : name}`;
		}

		case 'cri-o':
		case 'containerd': {
			return each ? "crictl stop each of them (their pods' kubelets start them again)" : `crictl stop ${c.id.slice(0, 12)} (its pod's kubelet starts it again)`;
		}

		case 'systemd-nspawn': {
			return `machinectl reboot ${each ? 'each of them' : name}`;
		}

		default: {
			return `restart ${each ? 'each of them' : 'it'} with ${c.engine}`;
		}
	}
}

// "Its image: localhost/web:latest, image 46f2025a07… (manifest sha256:ac506eed39…); the
// name now points to image 675cd2ad06… (the tag moved on)."
export function imageSentence(c: Container): string {
	const i = c.image;
	if (!i) {
		return `Its image is not known: ${c.engine}'s records were not read (see warnings).`;
	}

	const what = [
		i.id ? `image ${short(i.id)}` : undefined,
		i.digest ? `manifest ${i.digest.startsWith('sha256:') ? `sha256:${short(i.digest.slice(7))}` : short(i.digest)}` : undefined,
	]
		.filter(Boolean)
		.join(', ');
	const head = `Its image: ${i.name ?? 'created from an image ID, no name'}${what ? ` (${what})` : ''}`;
	switch (c.imageOutdated) {
		case true: {
			return i.nameNowResolvesTo
				? `${head}; the name now points to image ${short(i.nameNowResolvesTo)} (the tag moved on).`
				: `${head}; the name resolves to no image now.`;
		}

		case false: {
			return `${head}, which that name still points to.`;
		}

		default: {
			return `${head}.`;
		}
	}
}
