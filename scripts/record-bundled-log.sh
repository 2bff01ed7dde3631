#!/usr/bin/env bash
# Record the bundled log: every dated development in the two source articles, through
# the CLI, each citing its article with a quote. Run from the project folder:
#
#     TRACKER_EVENTS=events scripts/record-bundled-log.sh
#
# Dates are as precise as the articles: "2004", "August 2024". Article B is undated. Its
# records were first dated 2020; its text (the pandemic, and the 30th anniversary of ties
# with Japan "which will take place in 2022") allows 2020 or 2021, and the amendments at
# the end correct them to that (corrections are new events: the log keeps what was
# recorded first). What the articles leave open stays open: no participants where they
# name none, no city where they name only a country. Two fields first recorded from what
# the articles imply (a level, a mode) are cleared by amendments at the end.
set -euo pipefail
export TRACKER_WRITER="${TRACKER_WRITER:-bundled}"
export TRACKER_USER="${TRACKER_USER:-tracker-founders}"

A_SOURCE='ORIENT news, "Preparations for the Central Asia + Japan summit were discussed in Tokyo", 24.07.2024'
A=(--source "$A_SOURCE" --publisher "ORIENT" --published 2024-07-24)
B=(--source 'News report on the special video conference of the Central Asia plus Japan Dialogue, beginning "On Tuesday, the Foreign Ministers of Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan, and Uzbekistan met with their Japanese counterpart" (publisher and date not stated; 2020 from its text)')
FIVE=KAZ,KGZ,TJK,TKM,UZB

# --- Formats ---------------------------------------------------------------------------
tracker add format central-asia-japan --name "Central Asia + Japan" \
  --member JPN,$FIVE --launched 2004 \
  --summary "The Central Asia plus Japan Dialogue, the first \"Central Asia +\" format." \
  "${A[@]}" --quote "The Central Asia Plus Japan Dialogue was launched in 2004 to promote regional cooperation." >/dev/null
tracker cite central-asia-japan "${A[@]}" \
  --quote "this year marks the 20th anniversary of the “Central Asia plus Japan” Dialogue, which became the first such format" >/dev/null
JAPAN_B=$(tracker cite central-asia-japan "${B[@]}" \
  --quote "At the time, Tokyo was the first government to begin a 5+1 engagement with the Central Asian nations")

PLUS_QUOTE="In one institutional form or another, the “Central Asia Plus” dialogue is conducted by the Republic of Korea, the USA, Russia, China, India, as well as the EU."
B_PLUS_QUOTE="Tokyo was the first government to begin a 5+1 engagement with the Central Asian nations, which is now commonly practiced by the United States, the European Union, South Korea, and, most recently, China."
tracker add format central-asia-korea --name "Central Asia + Republic of Korea" \
  --member KOR,$FIVE "${A[@]}" --quote "$PLUS_QUOTE" >/dev/null
KOREA_B=$(tracker cite central-asia-korea "${B[@]}" --quote "$B_PLUS_QUOTE")
tracker add format central-asia-united-states --name "Central Asia + United States" \
  --member USA,$FIVE "${A[@]}" --quote "$PLUS_QUOTE" >/dev/null
UNITED_STATES_B=$(tracker cite central-asia-united-states "${B[@]}" --quote "$B_PLUS_QUOTE")
tracker add format central-asia-russia --name "Central Asia + Russia" \
  --member RUS,$FIVE "${A[@]}" --quote "$PLUS_QUOTE" >/dev/null
tracker add format central-asia-china --name "Central Asia + China" \
  --member CHN,$FIVE --launched 2020-05 \
  --summary "China's first-ever 5+1 dialogue with the Central Asian states was a video call in May 2020; before, it preferred to deal with them bilaterally." \
  "${B[@]}" --quote "In May, Beijing held a video call for its first-ever 5+1 format multilateral dialogue with the Central Asian states." >/dev/null
tracker cite central-asia-china "${A[@]}" --quote "$PLUS_QUOTE" >/dev/null
tracker add format central-asia-india --name "Central Asia + India" \
  --member IND,$FIVE "${A[@]}" --quote "$PLUS_QUOTE" >/dev/null
tracker add format central-asia-eu --name "Central Asia + European Union" \
  --member EU,$FIVE "${A[@]}" --quote "$PLUS_QUOTE" >/dev/null
EU_B=$(tracker cite central-asia-eu "${B[@]}" --quote "$B_PLUS_QUOTE")
tracker add format central-asia-germany --name "Germany-Central Asia" \
  --member DEU,$FIVE "${A[@]}" --quote "In 2023, the first Germany-Central Asia summit was held." >/dev/null

# --- Central Asia + Japan: foreign ministers' meetings ------------------------------------
FIRST=$(tracker add meeting --title "1st Central Asia + Japan foreign ministers' meeting" \
  --date 2004-08 --status held --format central-asia-japan --level ministerial \
  --city Nur-Sultan --country KAZ "${A[@]}" \
  --quote "The first meeting of foreign ministers took place in Kazakhstan in August of the same year.")
FIRST_B=$(tracker cite "$FIRST" "${B[@]}" \
  --quote "The first Central Asia plus Japan dialogue was held in Nur-Sultan in 2004.")

SIXTH=$(tracker add meeting --title "6th Central Asia + Japan foreign ministers' meeting" \
  --date 2017-05 --status held --format central-asia-japan --level ministerial \
  --city Ashgabat --country TKM "${A[@]}" \
  --quote "In Ashgabat, in May 2017, there was the sixth meeting of ministers")

TAJIKISTAN=$(tracker add meeting --title "Central Asia + Japan Dialogue meeting in Tajikistan" \
  --date 2019-05 --status held --format central-asia-japan --level ministerial \
  --country TJK "${B[@]}" \
  --quote "the last iteration of the Dialogue held in May 2019 in Tajikistan")

VIDEO=$(tracker add meeting \
  --title "Special video conference of Central Asia + Japan foreign ministers" \
  --date 2020 --status held --format central-asia-japan --level ministerial --mode virtual \
  --participant JPN,$FIVE --chair JPN --official "JPN:Toshimitsu Motegi:Foreign Minister" \
  --topic "COVID-19 pandemic" --topic "regional cooperation" --topic "humanitarian assistance" \
  --topic "repatriation of citizens" --topic "economic modernisation" \
  --topic "trade and investment" --topic "30th anniversary of diplomatic ties with Japan" \
  --summary "The five Central Asian foreign ministers and Japan's met by video during the coronavirus pandemic: the health crisis, regional cooperation, humanitarian assistance and repatriation of citizens, economic activity and business mobility. They agreed to develop recommendations for trade and investment projects, especially in the agro-industrial sector with Japanese businesses, for the next Dialogue, and held preparatory talks for the 30th anniversary of diplomatic ties with Japan in 2022." \
  "${B[@]}" \
  --quote "On Tuesday, the Foreign Ministers of Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan, and Uzbekistan met with their Japanese counterpart for a special video conference of the Central Asia plus Japan Dialogue.")
VIDEO_B=$(tracker cite "$VIDEO" "${B[@]}" \
  --quote "Motegi, who chaired the conference, said in his address that Tokyo would be contributing as a “catalyst” towards the development of the five Central Asian states.")

tracker add meeting --title "9th Central Asia + Japan foreign ministers' meeting" \
  --date 2022-12 --status held --format central-asia-japan --level ministerial \
  --city Tokyo --country JPN "${A[@]}" \
  --quote "the last, 9th meeting of foreign ministers was held in Tokyo in December 2022." >/dev/null

# --- 2024: towards the first summit ------------------------------------------------------
SUMMIT=$(tracker add meeting --title "1st Central Asia + Japan summit" \
  --date 2024-08 --status scheduled --format central-asia-japan --level summit \
  --city Astana --country KAZ "${A[@]}" \
  --quote "The diplomats discussed the organization of the first “Central Asia + Japan” Summit, which will be held in Astana in August 2024.")

AMBASSADORS=$(tracker add meeting \
  --title "Foreign Minister Kamikawa meets the Central Asian ambassadors on the first summit" \
  --date 2024-07-23 --status held --format central-asia-japan --level ambassadorial \
  --mode in-person --city Tokyo --country JPN --participant JPN,$FIVE \
  --official "JPN:Yoko Kamikawa:Foreign Minister" \
  --topic "first Central Asia + Japan summit" --topic "political and diplomatic cooperation" \
  --topic "trade and economic cooperation" --topic "cultural and humanitarian cooperation" \
  --summary "Japan's Foreign Ministry hosted Foreign Minister Yoko Kamikawa and the ambassadors of Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan and Uzbekistan accredited in Tokyo. They discussed the organisation of the first Central Asia + Japan summit; in their general opinion it will give significant impetus to six-party cooperation." \
  "${A[@]}" \
  --quote "On Tuesday, July 23, the Foreign Ministry of Japan hosted a meeting between Foreign Minister Yoko Kamikawa and the ambassadors of Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan and Uzbekistan accredited in Tokyo.")

HOPE=$(tracker add announcement \
  --title "Japan: the first summit is a historic opportunity for the Dialogue countries" \
  --date 2024-07-23 --by JPN --about "$SUMMIT" --about central-asia-japan \
  --topic "first Central Asia + Japan summit" \
  --summary "Minister Kamikawa called Central Asia a region of geopolitical significance and an important partner of Japan, noting the 20th anniversary of the Dialogue; the Foreign Ministry's press release hoped the first summit would be a historic opportunity." \
  "${A[@]}" \
  --quote "Japan hopes for further cooperation so that the first summit will serve as a historic opportunity for significant advancement of relations between the Dialogue countries, the Japanese Foreign Ministry said in a press release.")

# --- 2020: what Japan pledged and said at the video conference ----------------------------
PLEDGE=$(tracker add pledge --title "Grant aid for medical equipment to the Central Asian countries" \
  --date 2020 --donor JPN --recipient $FIVE --amount 2000000000 --currency JPY \
  --approximate --instrument grant \
  --purpose "Medical equipment, to aid the Central Asian countries' battle with the health crisis" \
  --at "$VIDEO" "${B[@]}" \
  --quote "Japanese Foreign Minister Toshimitsu Motegi said that Tokyo was providing nearly 2 billion yen of grant aid for medical equipment")

AID=$(tracker add announcement \
  --title "Japan provides technical assistance, medical supplies and information-sharing on infectious diseases" \
  --date 2020 --by JPN --about "$VIDEO" --topic "COVID-19 pandemic" \
  "${B[@]}" \
  --quote "as well as technical assistance, medical supplies, and information-sharing on infectious diseases to the Central Asian countries to aid their battle with the health crisis. The five leaders welcomed this decision and thanked Motegi for his assistance.")

CATALYST=$(tracker add announcement \
  --title "Motegi: Japan will contribute as a catalyst to the development of Central Asia" \
  --date 2020 --by JPN --about "$VIDEO" \
  "${B[@]}" \
  --quote "Tokyo would be contributing as a “catalyst” towards the development of the five Central Asian states. He further noted that it is crucial to maintain diplomatic momentum for cooperation and dialogue")

ASSETS=$(tracker add announcement \
  --title "Kazakhstan: Japan's economic and technological assets can modernise Central Asia's economy" \
  --date 2020 --by KAZ --about "$VIDEO" --topic "economic modernisation" \
  "${B[@]}" \
  --quote "“The economic and technological assets of Japan are of great interest – they can be applied in the modernization of the economy of Central Asia as a whole, and through the implementation of joint projects,” a statement from Kazakhstan reads.")

# --- Other "Central Asia +" formats --------------------------------------------------------
CHINA_CALL=$(tracker add meeting --title "First Central Asia + China dialogue, by video call" \
  --date 2020-05 --status held --format central-asia-china --mode virtual \
  --participant CHN,$FIVE "${B[@]}" \
  --quote "In May, Beijing held a video call for its first-ever 5+1 format multilateral dialogue with the Central Asian states.")

tracker add meeting --title "1st Germany-Central Asia summit" \
  --date 2023 --status held --format central-asia-germany --level summit "${A[@]}" \
  --quote "In 2023, the first Germany-Central Asia summit was held." >/dev/null

# --- Corrections: article B gives no year ------------------------------------------------
# Its records were dated 2020 above. Its text allows 2020 or 2021: amended, not rewritten.
correct_years() {
  B_YEARS=(--source 'News report on the special video conference of the Central Asia plus Japan Dialogue, beginning "On Tuesday, the Foreign Ministers of Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan, and Uzbekistan met with their Japanese counterpart" (publisher and date not stated; 2020 or 2021 from its text)')
  local why="article B gives no year: the coronavirus pandemic, and the 30th anniversary of ties with Japan that will take place in 2022, place it in 2020 or 2021, not in 2020 alone"
  local anniversary="The meeting also included preparatory talks for the 30th anniversary of diplomatic ties with Japan, which will take place in 2022"
  local may="In May, Beijing held a video call for its first-ever 5+1 format multilateral dialogue with the Central Asian states."
  for record in "$VIDEO" "$PLEDGE" "$AID" "$CATALYST" "$ASSETS"; do
    tracker amend "$record" --set date=2020/2021 --reason "$why" "${B_YEARS[@]}" \
      --quote "$anniversary" >/dev/null
  done
  tracker amend "$CHINA_CALL" --set date=2020-05/2021-05 \
    --reason "$why; the call was in May of that year" "${B_YEARS[@]}" --quote "$may" >/dev/null
  tracker amend central-asia-china --set launched=2020-05/2021-05 \
    --set "summary=China's first-ever 5+1 dialogue with the Central Asian states was a video call in May (of 2020 or 2021: the report gives no year); before, it preferred to deal with them bilaterally." \
    --reason "$why; the call was in May of that year" "${B_YEARS[@]}" --quote "$may" >/dev/null
}
correct_years

# --- Corrections: what the articles do not say ---------------------------------------------
# Two fields were first recorded from what the articles imply, not from what they say.
tracker amend "$TAJIKISTAN" --set level= \
  --reason "article B calls it \"the last iteration of the Dialogue\" and does not say who met, so not at which level" \
  "${B_YEARS[@]}" --quote "the last iteration of the Dialogue held in May 2019 in Tajikistan" >/dev/null
tracker amend "$AMBASSADORS" --set mode= \
  --reason "article A says that the Foreign Ministry hosted the meeting, not whether the minister and the ambassadors met in person" \
  "${A[@]}" --quote "the Foreign Ministry of Japan hosted a meeting between Foreign Minister Yoko Kamikawa and the ambassadors" >/dev/null

# --- Corrections: a review of the log against the articles ---------------------------------
# Article B's citation said "2020 from its text", as its records' first dates did. The
# citations given with `tracker cite` are withdrawn and given again, corrected; a record's
# own source stays with it, and its date amendment above cites the corrected one.
recite() {
  local citation=$1 record=$2 quote=$3
  tracker uncite "$citation" --reason "its citation dates article B to 2020, which its text does not: it allows 2020 or 2021" >/dev/null
  tracker cite "$record" "${B_YEARS[@]}" --quote "$quote" >/dev/null
}
recite "$JAPAN_B" central-asia-japan "At the time, Tokyo was the first government to begin a 5+1 engagement with the Central Asian nations"
recite "$KOREA_B" central-asia-korea "$B_PLUS_QUOTE"
recite "$UNITED_STATES_B" central-asia-united-states "$B_PLUS_QUOTE"
recite "$EU_B" central-asia-eu "$B_PLUS_QUOTE"
recite "$FIRST_B" "$FIRST" "The first Central Asia plus Japan dialogue was held in Nur-Sultan in 2004."
recite "$VIDEO_B" "$VIDEO" "Motegi, who chaired the conference, said in his address that Tokyo would be contributing as a “catalyst” towards the development of the five Central Asian states."

# Article A reports a hope, not a fact; and it dates the meeting, not the press release.
tracker amend "$HOPE" \
  --set "title=Japan hopes the first summit will be a historic opportunity for the Dialogue countries" \
  --reason "the press release states a hope, not a fact" "${A[@]}" \
  --quote "Japan hopes for further cooperation so that the first summit will serve as a historic opportunity" >/dev/null
tracker amend "$HOPE" --set date=2024-07-23/2024-07-24 \
  --reason "article A does not date the press release: it reports the meeting of Tuesday, July 23, and is dated 24.07.2024" \
  "${A[@]}" --quote "the Japanese Foreign Ministry said in a press release" >/dev/null
tracker amend "$AMBASSADORS" \
  --set "summary=Japan's Foreign Ministry hosted a meeting between Foreign Minister Yoko Kamikawa and the ambassadors of Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan and Uzbekistan accredited in Tokyo. They discussed the organisation of the first Central Asia + Japan summit; in their general opinion it will give significant impetus to six-party cooperation." \
  --reason "article A says that the Foreign Ministry hosted a meeting between the minister and the ambassadors, not that it hosted them" \
  "${A[@]}" --quote "the Foreign Ministry of Japan hosted a meeting between Foreign Minister Yoko Kamikawa and the ambassadors" >/dev/null

# --- Corrections: a second review against the articles (2026-11-24) -------------------------
# "COVID-19" is a name the articles never use: article B says "the coronavirus pandemic"
# and "the health crisis". And the summary of Japan's hope also gives what Minister
# Kamikawa said, which the record did not cite.
second_review() {
  tracker amend "$VIDEO" --set "topic=coronavirus pandemic" --set "topic=regional cooperation" \
    --set "topic=humanitarian assistance" --set "topic=repatriation of citizens" \
    --set "topic=economic modernisation" --set "topic=trade and investment" \
    --set "topic=30th anniversary of diplomatic ties with Japan" \
    --reason "article B never says COVID-19: it says the coronavirus pandemic" "${B_YEARS[@]}" \
    --quote "In the 5+1 format, the external ministers discussed aspects of regional cooperation between the Eurasian countries as well as with Japan during the coronavirus pandemic." >/dev/null
  tracker amend "$AID" --set "topic=health crisis" \
    --reason "article B never says COVID-19: the aid is for the Central Asian countries' battle with the health crisis" \
    "${B_YEARS[@]}" \
    --quote "to aid their battle with the health crisis" >/dev/null
  tracker cite "$HOPE" "${A[@]}" \
    --quote "Central Asia is a region of geopolitical significance and an important partner of Japan, Minister Kamikawa said and noted that this year marks the 20th anniversary of the “Central Asia plus Japan” Dialogue, which became the first such format." >/dev/null
}
second_review

# --- Corrections: a third review against the articles (2026-11-25) --------------------------
# Two titles said more than the articles: article A calls the meeting of May 2017 "the
# sixth meeting of ministers" (foreign ministers are named only of the first and the 9th),
# and Kazakhstan's statement says Japan's assets can be applied in modernising the economy,
# not that they can modernise it. Japan's technical assistance cited the sentence that
# says who provides it.
third_review() {
  tracker amend "$SIXTH" --set "title=6th Central Asia + Japan meeting of ministers" \
    --reason "article A calls it the sixth meeting of ministers: it says foreign ministers only of the first and the 9th" \
    "${A[@]}" --quote "In Ashgabat, in May 2017, there was the sixth meeting of ministers" >/dev/null
  tracker amend "$ASSETS" \
    --set "title=Kazakhstan: Japan's economic and technological assets are of great interest and can be applied in modernising Central Asia's economy" \
    --reason "the statement says the assets can be applied in the modernization of the economy, not that they can modernise it" \
    "${B_YEARS[@]}" \
    --quote "The economic and technological assets of Japan are of great interest – they can be applied in the modernization of the economy of Central Asia as a whole" >/dev/null
  tracker cite "$AID" "${B_YEARS[@]}" \
    --quote "Japanese Foreign Minister Toshimitsu Motegi said that Tokyo was providing nearly 2 billion yen of grant aid for medical equipment, as well as technical assistance, medical supplies, and information-sharing on infectious diseases to the Central Asian countries" >/dev/null
}
third_review
