// The page's keyboard shortcuts: one table for what a key does and for how the buttons' titles
// name it. Pure (tests/js/shortcuts.test.mjs); www/keyboard.js binds the actions.

/** action → key (KeyboardEvent.key, lower case for letters) and whether it needs Ctrl/⌘. */
export const SHORTCUTS = {
  pen: { key: 'p' },
  eraser: { key: 'e' },
  hide: { key: 'h' },
  eyedropper: { key: 'i' },
  smallerBrush: { key: '[' },
  largerBrush: { key: ']' },
  complete: { key: 'Enter' },
  stop: { key: 'Escape' },
  undo: { key: 'z', command: true },
  redo: { key: 'z', command: true, shift: true },
};

/** The action a keydown asks for, or null: the page's shortcuts never take keys from a field. */
export function shortcutFor(event) {
  const command = event.ctrlKey || event.metaKey;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (command && !event.altKey) {
    // Ctrl+Y is redo on Windows; in a text field the field's own undo applies.
    if (typing(event.target)) return null;
    if (key === 'y' && !event.shiftKey) return 'redo';
    if (key === 'z') return event.shiftKey ? 'redo' : 'undo';
    return null;
  }
  if (command || event.altKey) return null;
  if (key === 'Escape') return 'stop';
  if (typing(event.target)) return null;
  // Enter keeps its meaning on the control that has focus (a button presses itself).
  if (key === 'Enter' && activatable(event.target)) return null;
  for (const [action, binding] of Object.entries(SHORTCUTS)) {
    if (!binding.command && binding.key === key) return action;
  }
  return null;
}

/** "P", "Ctrl+Z", "⇧⌘Z": how a title names the action's key. */
export function keyLabel(action, mac = false) {
  const { key, command, shift } = SHORTCUTS[action];
  const name = key.length === 1 ? key.toUpperCase() : key === 'Escape' ? 'Esc' : key;
  if (!command) return name;
  if (mac) return `${shift ? '⇧' : ''}⌘${name}`;
  return `${shift ? 'Shift+' : ''}Ctrl+${name}`;
}

/** The aria-keyshortcuts value of the action ("Control+Z", "Shift+Control+Z", "P"). */
export function ariaKeys(action, mac = false) {
  const { key, command, shift } = SHORTCUTS[action];
  const name = key.length === 1 ? key.toUpperCase() : key;
  return [shift && 'Shift', command && (mac ? 'Meta' : 'Control'), name].filter(Boolean).join('+');
}

function typing(target) {
  const tag = target?.tagName;
  if (tag === 'TEXTAREA' || target?.isContentEditable) return true;
  if (tag !== 'INPUT') return tag === 'SELECT';
  return !['checkbox', 'radio', 'range', 'button', 'submit', 'reset', 'file'].includes(target.type);
}

function activatable(target) {
  return ['BUTTON', 'A', 'SUMMARY', 'SELECT', 'INPUT'].includes(target?.tagName);
}
