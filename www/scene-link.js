// Sharing a scene: the "Copy link" address of the drawing and settings, and opening the scene
// of a link (#scene=…). The encoding itself is www/scene.js.

import { $, notice, showHint, state, urlParams } from './app-state.js';
import { options, stop } from './completion.js';
import { alternativesFitDrawing } from './drawing-controls.js';
import { decodeImage, encodeScene, parseScene, sceneFromHash } from './scene.js';

/** The scene of the current drawing and settings; its seed is the one of the alternatives shown. */
function currentScene() {
  const { editor, finished } = state;
  const opts = options('complete');
  const showing = finished?.kind === 'complete' && alternativesFitDrawing()
    && ['label', 'temperature', 'alternatives', 'candidates'].every((k) => finished.opts[k] === opts[k]);
  return { model: state.source.key, ...opts, seed: showing ? finished.opts.seed : opts.seed, pixels: editor.pixels, known: editor.known };
}

/** The address that opens this scene: the page without its per-visit parameters. */
function sceneUrl() {
  const url = new URL(location.href);
  for (const key of [...url.searchParams.keys()]) if (key !== 'digits') url.searchParams.delete(key);
  url.hash = `scene=${encodeScene(currentScene(), state.info)}`;
  return url.href;
}

export async function copyLink() {
  const url = sceneUrl();
  if (!urlParams().has('embed')) history.replaceState(null, '', url);
  const box = $('share-link');
  try {
    await navigator.clipboard.writeText(url);
    box.hidden = true;
    $('status').textContent = 'Link copied: it opens this drawing with these settings, and Complete there gives these alternatives.';
  } catch {
    // No clipboard (an iframe without permission, an insecure page): the link to copy by hand.
    box.value = url;
    box.hidden = false;
    box.select();
    $('status').textContent = 'Copy the link above: it opens this drawing with these settings.';
  }
}

/** The scene in a location hash, or null; a malformed one is a notice, and the default view. */
export function readScene(hash) {
  const text = sceneFromHash(hash);
  if (text === null) return null;
  try {
    return parseScene(text);
  } catch (err) {
    sceneNotice(err.message);
    return null;
  }
}

export function sceneNotice(reason) {
  notice(`This link's scene could not be opened (${reason}), so the page shows its default view.`);
}

/** Puts a parsed scene on the page; false (with a notice) when it does not fit the model. */
export function applyScene(scene) {
  const drawing = decodeScene(scene);
  if (!drawing) return false;
  state.drawing.useModel(state.source.key);
  $('temperature').value = String(scene.temperature);
  $('alternatives').value = String(scene.alternatives);
  $('candidates').value = String(scene.candidates);
  state.candidatesSet = true;
  $('seed').value = String(scene.seed);
  for (const id of ['temperature', 'alternatives', 'candidates']) $(id).dispatchEvent(new Event('input'));
  state.drawing.change((editor) => editor.restore(drawing.pixels, drawing.known), { label: scene.label === null ? '' : String(scene.label) });
  showHint('A shared drawing: press Complete to see what the model makes of it.');
  return true;
}

/** A scene's drawing ({ pixels, known }) for the loaded model; null (with a notice) when it does not fit. */
function decodeScene(scene) {
  const { info } = state;
  try {
    if (scene.label !== null && scene.label >= info.classes) {
      throw new Error(info.classes ? `its class ${scene.label} is not one of the model's 0–${info.classes - 1}` : 'it has a class, the model none');
    }
    return decodeImage(scene.image, info, state.editor.paper);
  } catch (err) {
    sceneNotice(err.message);
    return null;
  }
}

/**
 * A new #scene=… in the address bar of an open page. A scene of another model is applied once
 * `openModel(key)` (the page's model switch) has loaded that model.
 */
export async function openLinkedScene(openModel) {
  const scene = readScene(location.hash);
  if (!scene) return;
  if (state.running) stop();
  if (scene.model === state.source?.key) {
    applyScene(scene);
    return;
  }
  state.scene = scene;
  await openModel(scene.model);
}
