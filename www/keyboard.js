// The keyboard shortcuts (www/shortcuts.js) bound to the page's actions, and named in the
// titles of the buttons they press.

import { $, state } from './app-state.js';
import { run, stop } from './completion.js';
import { redo, undo } from './drawing-controls.js';
import { ariaKeys, keyLabel, shortcutFor } from './shortcuts.js';
import { selectTool, stepBrush } from './tool-bar.js';

const MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

const CONTROLS = {
  pen: '[data-tool=pen]', eraser: '[data-tool=eraser]', hide: '[data-tool=hide]', eyedropper: '[data-tool=eyedropper]',
  smallerBrush: '#brush', complete: '#complete', stop: '#stop', undo: '#undo', redo: '#redo',
};

export function wireKeyboard() {
  const actions = {
    pen: () => selectTool('pen'),
    eraser: () => selectTool('eraser'),
    hide: () => selectTool('hide'),
    eyedropper: () => { if (state.info.channels > 1) selectTool('eyedropper'); },
    smallerBrush: () => stepBrush(-1),
    largerBrush: () => stepBrush(1),
    complete: () => { if (!$('complete').disabled) run('complete'); },
    stop: () => { if (state.running) stop(); },
    undo,
    redo,
  };
  nameShortcuts();
  document.addEventListener('keydown', (ev) => {
    const action = shortcutFor(ev);
    if (!action || !state.editor || (action === 'stop' && !state.running)) return;
    ev.preventDefault();
    actions[action]();
  });
}

/** Adds each shortcut to its button's title and aria-keyshortcuts. */
function nameShortcuts() {
  for (const [action, selector] of Object.entries(CONTROLS)) {
    const control = document.querySelector(selector);
    const keys = action === 'smallerBrush' ? `${keyLabel('smallerBrush')} ${keyLabel('largerBrush')}` : keyLabel(action, MAC);
    control.title = `${control.title} (${keys})`;
    control.setAttribute('aria-keyshortcuts', action === 'smallerBrush'
      ? `${ariaKeys('smallerBrush')} ${ariaKeys('largerBrush')}` : ariaKeys(action, MAC));
  }
}
