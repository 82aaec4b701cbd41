// The drawing tools: which tool is pressed, the brush size and the pen palette of colour models.

import { $, state } from './app-state.js';
import { TOOLS } from './editor.js';

// A pen palette for colour models (RGB, 0–255; scaled to the model's levels).
const PALETTE = [
  [0, 0, 0], [255, 255, 255], [128, 128, 128], [230, 40, 40], [255, 140, 0], [255, 210, 30],
  [60, 170, 60], [40, 170, 220], [40, 80, 200], [140, 60, 180], [240, 120, 170], [130, 80, 40],
];

export function selectTool(tool) {
  if (!TOOLS.includes(tool)) return;
  state.editor.tool = tool;
  for (const b of document.querySelectorAll('[data-tool]')) {
    b.setAttribute('aria-pressed', String(b.dataset.tool === tool));
  }
  if (tool === 'hide' && Number($('brush').value) < 3) {
    $('brush').value = '3';
    state.editor.brush = 3;
  }
}

/** The next smaller (-1) or larger (+1) brush of the size menu. */
export function stepBrush(direction) {
  const select = $('brush');
  select.selectedIndex = Math.min(select.options.length - 1, Math.max(0, select.selectedIndex + direction));
  state.editor.brush = Number(select.value);
  state.editor.render();
}

/** The pen colours of a colour model (none for grey ones); the eyedropper picks into them. */
export function buildPalette() {
  const box = $('palette');
  box.replaceChildren();
  const { editor, info } = state;
  if (info.channels !== 3) return;
  const scale = (v) => Math.round((v * (info.levels - 1)) / 255);
  const select = (levels) => {
    editor.colour = levels;
    for (const b of box.querySelectorAll('button')) {
      b.setAttribute('aria-pressed', String(b.dataset.levels === levels.join(',')));
    }
  };
  for (const rgb of PALETTE) box.append(colourButton(rgb, rgb.map(scale), select));
  select(PALETTE[0].map(scale));
  editor.onpick = (levels) => {
    select(levels);
    selectTool('pen');
  };
}

function colourButton(rgb, levels, select) {
  const button = document.createElement('button');
  button.type = 'button';
  button.dataset.levels = levels.join(',');
  button.style.background = `rgb(${rgb.join(',')})`;
  button.title = `Pen colour rgb(${rgb.join(', ')})`;
  button.setAttribute('aria-label', button.title);
  button.addEventListener('click', () => { select(levels); selectTool('pen'); });
  return button;
}
