// Jest setup provided by Grafana scaffolding
import './.config/jest-setup';

// i18next advertises itself on console.info when Grafana's i18n starts; keep test output to the tests.
const consoleInfo = console.info;
console.info = (...args) => {
  if (typeof args[0] === 'string' && args[0].includes('i18next')) {
    return;
  }
  consoleInfo(...args);
};

// Grafana's Combobox sizes its menu with a canvas; jsdom has none, so measure text roughly.
HTMLCanvasElement.prototype.getContext = () => ({
  font: '',
  measureText: (text) => ({ width: String(text).length * 7 }),
});

// jsdom lacks the observers Grafana's menus use; these never fire.
class InertObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() {
    return [];
  }
}
global.IntersectionObserver = global.IntersectionObserver ?? InertObserver;
global.ResizeObserver = global.ResizeObserver ?? InertObserver;
