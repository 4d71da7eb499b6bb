import test from 'ava';
import {jsonChunks, renderJson} from '../src/render/json.js';
import {hostileDocument, makeDocument} from './helpers/status-document.js';

test('chunked JSON is exactly JSON.stringify(doc, null, 2) plus a newline', t => {
	for (const doc of [makeDocument(), hostileDocument(), makeDocument({states: []})]) {
		t.is(renderJson(doc), `${JSON.stringify(doc, null, 2)}\n`);
		t.is(renderJson(doc, false), `${JSON.stringify(doc)}\n`);
		t.true([...jsonChunks(doc)].length >= 3);
	}
});
