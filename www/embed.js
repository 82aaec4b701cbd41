// Embed the app in any page with one snippet:
//
//   <script type="module" src="https://YOUR-HOST/PATH/www/embed.js"></script>
//   <pixelcnn-demo model="emoji" alternatives="4" image="3"></pixelcnn-demo>
//
// The element is an iframe onto the app next to this file (so the wasm, its WebGPU device and
// its styles stay isolated from the host page). The app posts its content height to this page
// and the iframe takes that height, so nothing is clipped and no inner scroll bar appears.
// Attributes: `model` (mnist, emoji or a manifest URL), `alternatives` (1–16), `image` (which
// held-out test image to start from), `scene` (a shared scene: what the page's "Copy link"
// puts after #scene=; it sets the model, the drawing and the settings), `backend`
// (auto|webgpu|cpu), `height` (CSS length used until the app reports its own, default 760px).

const APP = new URL('../index.html', import.meta.url);
const PARAMS = ['backend', 'model', 'alternatives', 'image'];

class PixelCnnDemo extends HTMLElement {
  static observedAttributes = ['height', 'scene', ...PARAMS];

  constructor() {
    super();
    this.onMessage = (ev) => {
      const frame = this.querySelector('iframe');
      // Only this element's own iframe may size it.
      if (!frame || ev.source !== frame.contentWindow || ev.data?.type !== 'pixelcnn:height') return;
      const height = Math.ceil(Number(ev.data.height));
      if (Number.isFinite(height) && height > 0) frame.style.height = `${height}px`;
    };
  }

  connectedCallback() {
    addEventListener('message', this.onMessage);
    this.render();
  }

  disconnectedCallback() {
    removeEventListener('message', this.onMessage);
  }

  attributeChangedCallback() {
    if (this.isConnected) this.render();
  }

  render() {
    const url = new URL(APP);
    url.searchParams.set('embed', '');
    for (const key of PARAMS) {
      const value = this.getAttribute(key);
      if (value) url.searchParams.set(key, value);
    }
    const scene = this.getAttribute('scene');
    if (scene) url.hash = `scene=${scene.trim()}`;
    const frame = document.createElement('iframe');
    frame.src = url.href;
    frame.title = 'PixelCNN image completion';
    frame.loading = 'lazy';
    frame.style.cssText = `width:100%;max-width:60rem;border:0;display:block;height:${this.getAttribute('height') || '760px'}`;
    this.replaceChildren(frame);
  }
}

if (!customElements.get('pixelcnn-demo')) customElements.define('pixelcnn-demo', PixelCnnDemo);
