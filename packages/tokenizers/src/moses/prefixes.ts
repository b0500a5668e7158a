/**
 * Moses' nonbreaking prefixes for English and German (mosesdecoder's nonbreaking_prefix.en/.de as shipped
 * with sacremoses): a word followed by "." that does not end a sentence. "#NUMERIC_ONLY#" entries stay
 * attached only when the next token starts with a digit.
 */
const EN = `A B C D E F G H I J K L M N O P Q R S T U V W X Y Z
Adj Adm Adv Asst Bart Bldg Brig Bros Capt Cmdr Col Comdr Con Corp Cpl DR Dr Drs Ens Gen Gov Hon Hr Hosp
Insp Lt MM MR MRS MS Maj Messrs Mlle Mme Mr Mrs Ms Msgr Op Ord Pfc Ph Prof Pvt Rep Reps Res Rev Rt Sen Sens
Sfc Sgt Sr St Supt Surg v vs i.e rev e.g Rs No#NUMERIC_ONLY# Nos Art#NUMERIC_ONLY# Nr pp#NUMERIC_ONLY#
Jan Feb Mar Apr Jun Jul Aug Sep Oct Nov Dec`;

const DE = `A B C D E F G H I J K L M N O P Q R S T U V W X Y Z a b c d e f g h i j k l m n o p q r s t u v w x y z
I II III IV V VI VII VIII IX X XI XII XIII XIV XV XVI XVII XVIII XIX XX
i ii iii iv v vi vii viii ix x xi xii xiii xiv xv xvi xvii xviii xix xx
Adj Adm Adv Asst Bart Bldg Brig Bros Capt Cmdr Col Comdr Con Corp Cpl DR Dr Ens Gen Gov Hon Hosp Insp Lt
MM MR MRS MS Maj Messrs Mlle Mme Mr Mrs Ms Msgr Op Ord Pfc Ph Prof Pvt Rep Reps Res Rev Rt Sen Sens Sfc Sgt
Sr St Supt Surg Mio Mrd bzw v vs usw d.h z.B u.a etc Mrd MwSt ggf d.J D.h m.E vgl I.F z.T sogen ff u.E
g.U g.g.A c.-à-d Buchst u.s.w sog u.ä Std evtl Zt Chr u.U o.ä Ltd b.A z.Zt spp sen SA k.o jun i.H.v dgl
dergl Co zzt usf s.p.a Dkr Corp bzgl BSE No Nos Art Nr pp ca Ca
1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39
40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75
76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99`;

export interface Prefixes {
  /** Prefixes that never end a sentence (sacremoses' NONBREAKING_PREFIXES minus the numeric-only ones). */
  nonbreaking: Set<string>;
  /** Prefixes that stay attached only before a number (NUMERIC_ONLY_PREFIXES). */
  numericOnly: Set<string>;
}

function parse(list: string): Prefixes {
  const nonbreaking = new Set<string>();
  const numericOnly = new Set<string>();
  for (const w of list.split(/\s+/)) {
    if (w.endsWith("#NUMERIC_ONLY#")) numericOnly.add(w.slice(0, -"#NUMERIC_ONLY#".length));
    else if (w) nonbreaking.add(w);
  }
  return { nonbreaking, numericOnly };
}

const TABLES: Record<string, string> = { en: EN, de: DE };
const CACHE = new Map<string, Prefixes>();

/** The prefixes for `lang` ("en" or "de"), or null for other languages. */
export function nonbreakingPrefixes(lang: string): Prefixes | null {
  const list = TABLES[lang];
  if (list === undefined) return null;
  let p = CACHE.get(lang);
  if (p === undefined) {
    p = parse(list);
    CACHE.set(lang, p);
  }
  return p;
}
