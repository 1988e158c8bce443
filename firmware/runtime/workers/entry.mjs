// Worker entry of a line card (worker-cards.ts starts one per card). Workers on Node 20 do not get
// the parent's tsx loader hooks, so this plain ES module registers tsx in the worker's own thread,
// then runs the card (card-worker.ts). A bundled runtime, which has no tsx, passes its own entry
// (WorkerCardsOptions.workerEntry) that calls runCard() of its bundled card-worker.
import { register } from 'tsx/esm/api';

register();
const { runCard } = await import('./card-worker.ts');
await runCard();
