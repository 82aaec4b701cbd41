// Embed the app in any page with one snippet:
//
//   <script type="module" src="https://YOUR-HOST/PATH/www/embed.js"></script>
//   <pixelcnn-demo></pixelcnn-demo>
//
// The element is an iframe onto the app next to this file (so the wasm, its WebGPU device and
// its styles stay isolated from the host page). Attributes: `height` (CSS length, default
// 760px), `backend` (auto|webgpu|cpu), `model` (manifest URL).

const APP = new URL('../index.html', import.meta.url);

class PixelCnnDemo extends HTMLElement {
  static observedAttributes = ['height', 'backend', 'model'];

  connectedCallback() {
    this.render();
  }

  attributeChangedCallback() {
    if (this.isConnected) this.render();
  }

  render() {
    const url = new URL(APP);
    url.searchParams.set('embed', '');
    for (const key of ['backend', 'model']) {
      const value = this.getAttribute(key);
      if (value) url.searchParams.set(key, value);
    }
    const frame = document.createElement('iframe');
    frame.src = url.href;
    frame.title = 'PixelCNN digit completion';
    frame.loading = 'lazy';
    frame.style.cssText = `width:100%;max-width:60rem;border:0;display:block;height:${this.getAttribute('height') || '760px'}`;
    this.replaceChildren(frame);
  }
}

if (!customElements.get('pixelcnn-demo')) customElements.define('pixelcnn-demo', PixelCnnDemo);
