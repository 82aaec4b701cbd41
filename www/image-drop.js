// Where a visitor's own image comes from: a file dropped onto the drawing, pasted anywhere on
// the page, or chosen with the file picker. Each ends in one call of `onfile(file)`.

/**
 * @param {{zone: HTMLElement, picker: HTMLInputElement, onfile: (file: File) => void,
 *          onhover: (over: boolean) => void}} where
 */
export function listenForImages({ zone, picker, onfile, onhover }) {
  const hasFiles = (ev) => [...(ev.dataTransfer?.types ?? [])].includes('Files');
  zone.addEventListener('dragover', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = 'copy';
    onhover(true);
  });
  zone.addEventListener('dragleave', (ev) => {
    if (!zone.contains(ev.relatedTarget)) onhover(false);
  });
  zone.addEventListener('drop', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    onhover(false);
    const file = ev.dataTransfer.files[0];
    if (file) onfile(file);
  });
  // A file dropped next to the drawing would make the browser leave the page to show it.
  for (const type of ['dragover', 'drop']) {
    window.addEventListener(type, (ev) => { if (hasFiles(ev)) ev.preventDefault(); });
  }
  document.addEventListener('paste', (ev) => {
    const file = [...(ev.clipboardData?.files ?? [])][0];
    if (!file) return; // text pasted into a field stays the field's
    ev.preventDefault();
    onfile(file);
  });
  picker.addEventListener('change', () => {
    const file = picker.files[0];
    picker.value = ''; // choosing the same file again is a change too
    if (file) onfile(file);
  });
}
