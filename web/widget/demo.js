// The demo page: mounts the chat widget and lets ?lang=de|en and ?key= override its settings.
import { mountAll } from './widget.js';

const params = new URLSearchParams(location.search);
for (const el of document.querySelectorAll('[data-handover-chat]')) {
  if (params.get('lang')) el.dataset.lang = params.get('lang');
  if (params.get('key')) el.dataset.key = params.get('key');
  if (params.get('notice')) el.dataset.privacyNoticeVersion = params.get('notice');
}
document.documentElement.lang = params.get('lang') === 'de' ? 'de' : 'en';
mountAll();
