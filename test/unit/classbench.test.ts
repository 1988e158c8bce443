// ClassBench as the classifier's oracle: for every rule set in /work/shared/data/classbench/,
// `twinflow classify RULES TRACE` must print, line for line, the trace's last column (the
// 1-based first rule that matches the header, as ClassBench's trace generator computed it).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { twinflow } from '../fixtures/capture.ts';

const DATA = '/work/shared/data/classbench';
const SETS = ['acl1_1K', 'fw1_1K', 'ipc1_1K', 'acl1_10K', 'fw1_10K'];

for (const name of SETS) {
  test(`classify ${name}: 100% of the trace's expected first matches`, () => {
    const rules = path.join(DATA, name);
    const trace = path.join(DATA, `${name}_trace`);
    const expected = fs.readFileSync(trace, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/).at(-1)!);
    const r = twinflow(['classify', rules, trace]);
    assert.is(r.status, 0, r.stderr);
    const got = r.stdout.split('\n');
    assert.is(got.pop(), '', 'output ends with a newline');
    assert.is(got.length, expected.length, 'one line per trace line');
    const wrong = expected.flatMap((e, i) => (got[i] === e ? [] : [`line ${i + 1}: ${got[i]} (expected ${e})`]));
    assert.equal(wrong.slice(0, 10), [], `${wrong.length} of ${expected.length} wrong`);
    assert.ok(expected.some((e) => e !== '0') && new Set(expected).size > 50, 'the trace exercises many rules');
  });
}

test.run();
