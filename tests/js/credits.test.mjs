import assert from 'node:assert/strict';
import { test } from 'node:test';

import { credits, licenceLink, webLink } from '../../www/credits.js';

test('only http(s) addresses become links', () => {
  assert.equal(webLink('https://github.com/jdecked/twemoji'), 'https://github.com/jdecked/twemoji');
  assert.equal(webLink('http://yann.lecun.com/exdb/mnist/'), 'http://yann.lecun.com/exdb/mnist/');
  assert.equal(webLink('javascript:alert(1)'), null);
  assert.equal(webLink('data:text/html,hi'), null);
  assert.equal(webLink('not a url'), null);
  assert.equal(webLink(undefined), null);
});

test('a licence links to its SPDX page', () => {
  assert.equal(licenceLink('CC-BY-4.0'), 'https://spdx.org/licenses/CC-BY-4.0.html');
  assert.equal(licenceLink('a/b'), 'https://spdx.org/licenses/a%2Fb.html');
});

test('one credit per data set, in order; none for manifests without sources', () => {
  const sources = [
    { name: 'Noto Color Emoji', credit: 'Google', licence: 'Apache-2.0', url: 'https://github.com/googlefonts/noto-emoji', description: '…' },
    { name: 'Twemoji', credit: 'Twitter, Inc. and other contributors', licence: 'CC-BY-4.0', url: 'javascript:x', description: '…' },
  ];
  const list = credits(sources);
  assert.deepEqual(list.map((c) => c.name), ['Noto Color Emoji', 'Twemoji']);
  assert.equal(list[0].url, 'https://github.com/googlefonts/noto-emoji');
  assert.equal(list[1].url, null);
  assert.equal(list[1].licenceUrl, 'https://spdx.org/licenses/CC-BY-4.0.html');
  assert.deepEqual(credits(undefined), []);
  assert.deepEqual(credits([]), []);
});
