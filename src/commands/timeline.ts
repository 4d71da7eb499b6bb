// `livetree timeline`: what ran when, from the catalog's timeline (docs/timeline.md).
import type {TimelineFilter} from '../../native/binding.js';
import {CatalogError} from '../errors/catalog-error.js';
import {UsageError} from '../errors/usage-error.js';
import {native} from '../native.js';
import {catalogPath, readCommon} from '../options.js';
import {renderTimelineText} from '../render/timeline-text.js';
import {makeStyle} from '../render/style.js';
import type {TimelineDocument} from '../timeline/answer.js';
import {parseTime} from '../timeline/time.js';
import {catalogExists} from '../state-dir.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
import {commandTable} from './table.js';

export async function timelineCommand(argv: string[]): Promise<number> {
	const {values} = parseCommand('timeline', commandTable.timeline, argv);
	if (values.help) {
		process.stdout.write(commandHelp('timeline'));
		return 0;
	}

	const options = readCommon(values);
	if (values.at !== undefined && (values.since !== undefined || values.until !== undefined)) {
		throw new UsageError('timeline: --at asks about one moment; leave out --since and --until with it');
	}

	const at = values.at === undefined ? undefined : parseTime(values.at, '--at');
	const filter: TimelineFilter = {};
	if (at !== undefined) {
		filter.since = at;
		filter.until = at;
	} else {
		if (values.since !== undefined) filter.since = parseTime(values.since, '--since');
		if (values.until !== undefined) filter.until = parseTime(values.until, '--until');
		if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
			throw new UsageError('timeline: --since is after --until');
		}

		// Without --until the range ends now: one that starts later is empty, and no answer
		// over it may read as "nothing was in memory, by every scan recorded there".
		if (filter.since !== undefined && filter.until === undefined && filter.since > Date.now() / 1000) {
			throw new UsageError(`timeline: --since ${values.since} is in the future (the range runs from it to now)`);
		}
	}

	if (values.unit !== undefined) filter.unit = values.unit;
	if (values.container !== undefined) filter.container = values.container;
	if (values.package !== undefined) {
		const [name, ...version] = values.package.split('=');
		if (!name) throw new UsageError('timeline: --package takes NAME or NAME=VERSION');
		filter.package = name;
		if (version.length > 0) filter.packageVersion = version.join('=');
	}

	if (values.commit !== undefined) {
		if (!/^[\da-f]{4,64}$/.test(values.commit)) throw new UsageError('timeline: --commit takes a commit checksum or a prefix of 4 or more hex digits');
		filter.commit = values.commit;
	}

	const file = catalogPath(options);
	if (!catalogExists(file)) {
		throw new CatalogError(`${file}: no catalog here, so no scan was recorded (livetree status, as root, records one)`, 'ENOENT', file);
	}

	let text: Buffer;
	try {
		// The document as JSON text, written by the core (one buffer, not thousands of objects).
		text = native.catalogTimelineDocument(file, filter, at);
	} catch (error) {
		throw CatalogError.fromNative(error);
	}

	if (!options.json) {
		process.stdout.write(renderTimelineText(JSON.parse(text.toString('utf8')) as TimelineDocument, makeStyle(options.color)));
	} else if (process.stdout.isTTY) {
		// Indented for a person at a terminal; compact for programs (as status --json).
		process.stdout.write(`${JSON.stringify(JSON.parse(text.toString('utf8')), null, 2)}\n`);
	} else {
		process.stdout.write(text);
		process.stdout.write('\n');
	}

	return 0;
}
