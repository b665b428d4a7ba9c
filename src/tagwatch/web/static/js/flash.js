// The message strip under the top bar: refusals from the API and confirmations of actions.
// A module of its own so that views can use it without importing the shell (main.js).
export function flash(message, ok = false) {
  const box = document.getElementById("flash");
  box.textContent = message;
  box.classList.toggle("ok", ok);
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, 6000);
}
