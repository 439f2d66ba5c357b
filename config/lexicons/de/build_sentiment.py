#!/usr/bin/env python3
"""Builds de/sentiment.tsv, the engine's own German sentiment lexicon.

The core below was written by hand for this project: each lemma got a valence on the
-4 (extremely negative) .. +4 (extremely positive) scale used by the English lexicon,
judged for customer-service chat. The script expands the core systematically:

  a <valence> <lemma> [extra forms...]   adjective: lemma plus -e, -en, -er, -es, -em
  w <valence> <form> [forms...]          any word: only the forms listed
  p <valence> <stem>                     compound prefix:  "<stem>*"
  s <valence> <head>                     compound head:    "*<head>"

Umlaut and ß spellings need no variants: the engine folds "ä" to "ae" and "ß" to "ss" in
the lexicon and in the text alike. Run: python3 build_sentiment.py > sentiment.tsv
"""

CORE = """
a 1.9 gut besser beste besten bester bestes
a 2.9 super
a 3.0 toll
a 3.1 klasse
a 3.2 prima
a 3.4 hervorragend
a 3.3 ausgezeichnet
a 3.5 exzellent
a 3.0 perfekt
a 3.4 fantastisch
a 3.4 phantastisch
a 3.2 wunderbar
a 3.1 großartig
a 3.0 spitze
a 2.6 schön
a 2.2 nett
a 2.4 freundlich
a 2.3 hilfreich
a 2.0 schnell
a 1.8 zuverlässig
a 2.5 zufrieden
a 3.0 begeistert
a 2.8 glücklich
a 2.0 froh
a 2.1 dankbar
a 1.6 einfach
a 1.5 praktisch
a 1.8 kompetent
a 1.8 professionell
w 1.4 okay
w 1.2 ok
a 1.6 angenehm
a 2.3 lieb
a 2.7 genial
a 3.1 grandios
a 2.4 cool
a 2.0 lecker
a 1.7 günstig
a 1.6 fair
a 1.5 korrekt
a 1.8 pünktlich
a 1.5 sauber
a 2.0 geduldig
a 2.2 herzlich
a 1.8 empfehlenswert
a 2.9 traumhaft
a 1.4 problemlos
a 1.3 unkompliziert
a 1.0 interessant
a -1.9 schlecht schlechter schlechteste schlechtesten
a -3.0 schrecklich
a -3.1 furchtbar
a -2.9 fürchterlich
a -3.4 katastrophal
a -2.6 miserabel
a -2.8 mies
a -2.0 enttäuscht
a -2.1 enttäuschend
a -2.4 ärgerlich
a -2.5 verärgert
a -2.8 wütend
a -2.6 sauer
a -2.2 genervt
a -2.0 nervig
a -1.6 langsam
a -2.0 unfreundlich
a -2.3 unverschämt
a -1.9 unzufrieden
a -1.7 unzuverlässig
a -1.4 kompliziert
a -1.8 kaputt
a -1.5 defekt
a -1.6 falsch
a -1.8 teuer
a -2.2 überteuert
a -2.2 frustriert
a -2.1 frustrierend
a -2.5 traurig
a -1.5 unglücklich
a -2.4 peinlich
a -2.4 lächerlich
a -2.6 nutzlos
a -2.4 sinnlos
a -2.4 unmöglich
a -2.4 unfähig
a -2.2 inkompetent
a -2.3 dumm
a -2.2 blöd
a -2.0 doof
a -2.5 bescheuert
a -2.8 beschissen
a -1.8 unbrauchbar
a -1.8 mangelhaft
a -2.6 ungenügend
a -1.5 umständlich
a -1.8 chaotisch
a -2.2 respektlos
a -1.9 unhöflich
a -1.2 verwirrt
a -1.3 verwirrend
a -1.3 unklar
a -1.9 schade
a -2.7 empört
a -3.1 entsetzt
a -1.3 fragwürdig
a -1.4 zweifelhaft
a -2.0 besorgt
a -1.9 ungeduldig
a -1.5 verspätet
a -1.2 schwierig
a -1.5 umsonst
a -2.3 ekelhaft
a -2.6 widerlich
a -2.4 unerträglich
a -2.1 inakzeptabel
a -2.1 unakzeptabel
a -2.0 verloren
a -1.2 beschädigt
w 2.0 danke dankeschön vielen_dank
w 1.9 gerne
w 1.8 lob
w 2.4 freude freuen freue freut
w 2.2 liebe lieben liebe liebt
w 2.5 begeisterung
w 2.0 empfehlen empfehle
w 1.7 hilft geholfen
w 2.3 bravo
w 1.8 glück
w 1.7 erfolg erfolgreich
w 1.9 zufriedenheit
w 2.0 spaß
w 1.6 gefällt gefallen
w 1.9 mag
w 2.2 klappt geklappt
w 1.5 funktioniert
w 2.5 wow
w 2.2 yay
w -2.2 ärger ärgern ärgert
w -2.0 problem probleme
w -1.4 fehler
w -2.5 beschwerde beschwerden beschweren
w -2.4 hass hasse hassen
w -2.3 wut
w -2.9 katastrophe
w -3.4 desaster
w -2.3 frechheit
w -2.5 zumutung
w -2.4 skandal skandalös
w -2.8 abzocke
w -3.0 betrug betrüger
w -2.0 mist
w -3.0 scheiße scheiss
w -2.0 schrott
w -1.8 chaos
w -1.6 verspätung
w -1.2 warten wartezeit
w -1.9 enttäuschung
w -2.0 nervt nerven
w -1.8 fehlt fehlen
w -1.5 verschwunden
w -1.2 leider
w -2.0 unsinn schwachsinn quatsch
w -2.6 idiot idioten
w -3.1 arschloch
w -2.0 frust
w -1.6 sorge sorgen
w -2.2 angst
w -1.8 stress
w -2.3 unverschämtheit
w -1.9 versagt versagen
w -2.1 ignoriert
w -1.8 verarscht verarsche
w -1.4 reklamation
w -1.9 mängel
a 2.3 geil
a 3.0 herrlich
a 3.2 wunderschön
a 1.8 schick
a 2.2 gelungen
a 2.2 erfreulich
a 2.3 erfreut
a 2.6 beeindruckend
a 2.4 beeindruckt
a 2.0 großzügig
a 2.3 hilfsbereit
a 2.3 zuvorkommend
a 2.0 kulant
a 2.2 sympathisch
a 1.6 bequem
a 1.8 komfortabel
a 1.0 ruhig
a 1.2 stabil
a 2.4 optimal
a 2.3 ideal
a 2.0 lustig
a 2.0 witzig
a 1.8 spannend
a 1.6 entspannt
a 1.8 erleichtert
a 1.5 beruhigt
a 1.5 hoffnungsvoll
a 1.8 stolz
a -2.5 ätzend
a -2.6 nervtötend
a -2.6 grottig
a -3.0 grauenhaft
a -2.8 grausam
a -2.0 fies
a -2.2 gemein
a -2.3 dreist
a -1.8 frech
a -2.3 schlimm schlimmer schlimmste schlimmsten
a -2.2 übel
a -2.4 elend
a -2.5 jämmerlich
a -2.7 erbärmlich
a -2.4 armselig
a -2.1 hässlich
a -1.2 veraltet
a -1.6 überfüllt
a -2.0 dreckig
a -1.8 schmutzig
a -1.9 unpünktlich
a -1.8 ausgefallen
a -1.8 gestört
a -2.5 beleidigend
a -2.0 beleidigt
a -3.0 rassistisch
a -1.5 lahm
a -1.6 langweilig
a -1.5 öde
a -1.0 müde
a -1.4 anstrengend
a -1.8 stressig
a -1.2 nervös
a -2.5 zornig
a -2.2 böse
a -2.0 schmerzhaft
a -1.8 krank
a -1.6 ängstlich
a -1.6 bedauerlich
a -2.4 tot
w 2.5 glückwunsch herzlichen_glückwunsch
w 2.3 gratuliere
w 2.5 hurra
w 2.4 juhu
w 1.8 yeah
w 2.2 gewonnen
w 1.8 gewinn
w 1.9 loben lobe
w 1.9 bedanken bedanke
w 1.6 schätzen schätze
w 2.2 gefreut
w 1.8 top
w -1.8 ausfall
w -1.6 störung störungen
w -1.8 panne
w -1.2 stau
w -1.6 streik streiken streikt
w -1.5 verzögerung verzögerungen
w -1.5 mangel
w -2.4 lüge lügen gelogen
w -1.6 pech
w -2.8 hölle
w -3.0 albtraum alptraum
w -2.8 horror
w -2.6 wucher
w -1.5 stören stört gestört
w -2.5 tod
w -2.4 sterben
w -1.8 krankheit
w -1.6 weh
w -2.0 schmerz schmerzen
w -1.8 verlust
w -2.2 dummheit
w -2.4 kacke
w -1.2 bedauern
s -1.8 ausfall
s -1.6 störung
s -1.6 verspätung
p -2.5 scheiß
p -2.0 drecks
p -1.8 mist
p 2.0 traum
p -1.8 schrott
s -2.9 katastrophe
s -2.2 chaos
s -2.0 frechheit
s -2.2 desaster
s -1.5 probleme
s -1.8 ärger
s -1.7 laden
"""

ENDINGS = ["", "e", "en", "er", "es", "em"]


def expand(kind, valence, words):
    if kind == "a":
        lemma, extra = words[0], words[1:]
        if "_" in lemma:
            return [(lemma.replace("_", " "), valence)]
        forms = [lemma + e for e in ENDINGS] + extra
        if lemma.endswith("e"):
            forms = [lemma] + [lemma + e[1:] for e in ENDINGS if e] + extra
        return [(f, valence) for f in dict.fromkeys(forms)]
    if kind == "w":
        return [(w.replace("_", " "), valence) for w in words]
    if kind == "p":
        return [(words[0] + "*", valence)]
    if kind == "s":
        return [("*" + w, valence) for w in words if "_" not in w]
    raise ValueError(kind)


def main():
    print("# German sentiment lexicon of the handover trigger engine (our own work; see")
    print("# build_sentiment.py for how it was made). Format: entry<TAB>valence, -4..+4.")
    seen = set()
    for line in CORE.strip().splitlines():
        kind, valence, *words = line.split()
        for form, value in expand(kind, float(valence), words):
            if form in seen:
                continue
            seen.add(form)
            print(f"{form}\t{value}")


if __name__ == "__main__":
    main()
