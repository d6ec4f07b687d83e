"""One written definition per figure, shown next to it on the dashboard and in docs/statistics.md.

Keys are the names in Totals.figures(); `{T}` stands for an answer threshold in seconds (default 20,
60 and 120) and `{S}` for the short-abandon threshold (default 5 s).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Definition:
    nl: str
    en: str
    formula: str


_COMMON = ("Een gesprek telt in het kwartier waarin het binnenkwam (Europe/Amsterdam). ",
           "A call counts in the quarter hour it arrived in (Europe/Amsterdam). ")

DEFINITIONS: dict[str, Definition] = {
    "received": Definition(
        _COMMON[0] + "Alle gesprekken die binnenkwamen, ook die in het keuzemenu eindigden.",
        _COMMON[1] + "Every call that arrived, including those that ended in the menu.",
        "count(calls with a received event)"),
    "offered": Definition(
        "Gesprekken die in de wachtrij kwamen (na keuze van organisatie en onderwerp).",
        "Calls that entered a queue (after choosing organisation and topic).",
        "count(calls with a queued event)"),
    "answered": Definition(
        "Gesprekken die een medewerker opnam; doorverbonden gesprekken tellen mee.",
        "Calls a liaison answered; transferred calls included.",
        "count(outcome in {answered, transferred})"),
    "abandoned": Definition(
        "Gesprekken waarbij de beller in de wachtrij ophing (ook terwijl de telefoon van de medewerker overging).",
        "Calls where the caller hung up in the queue (also while the liaison's phone rang).",
        "count(outcome = abandoned_in_queue)"),
    "short_abandoned": Definition(
        "Opgehangen in de wachtrij binnen {S} seconden wachten: vergissing of bedenktijd, geen gemiste service.",
        "Hung up in the queue within {S} seconds of waiting: a misdial or a change of mind, not a service failure.",
        "count(outcome = abandoned_in_queue and wait <= {S})"),
    "answered_within": Definition(
        "Opgenomen gesprekken met een wachttijd (vanaf het binnenkomen in de wachtrij) van hoogstens {T} seconden.",
        "Answered calls whose speed of answer (from entering the queue) was at most {T} seconds.",
        "count(answered and answered_at - queued_at <= {T})"),
    "service_level": Definition(
        "Deel van de beoordeelde gesprekken dat binnen {T} seconden werd opgenomen. Beoordeeld: opgenomen plus "
        "opgehangen na de korte-ophangdrempel. Korte ophangers tellen niet mee (de beller gaf de dienst geen kans); "
        "terugbelverzoeken uit de wachtrij ook niet (de beller koos zelf een andere dienst; zie de "
        "terugbelcijfers).",
        "Share of judged calls answered within {T} seconds. Judged: answered plus abandoned after the "
        "short-abandon threshold. Short abandons are left out (the caller gave the service no chance); callback "
        "requests from the queue too (the caller chose another service; see the callback figures).",
        "answered_within_{T} / (answered + abandoned - short_abandoned); empty when the denominator is 0"),
    "average_speed_of_answer_seconds": Definition(
        "Gemiddelde tijd van binnenkomen in de wachtrij tot opnemen, over opgenomen gesprekken.",
        "Average time from entering the queue to a liaison answering, over answered calls.",
        "sum(answered_at - queued_at) / count(answered with a queue time)"),
    "longest_wait_seconds": Definition(
        "Langste tijd die een beller in de wachtrij doorbracht (tot opnemen, ophangen of terugbelverzoek).",
        "Longest time a caller spent in the queue (until answered, hung up or a callback was requested).",
        "max(left_queue_at - queued_at)"),
    "average_talk_time_seconds": Definition(
        "Gemiddelde gespreksduur van opnemen tot einde, over opgenomen gesprekken.",
        "Average conversation time from answer to end, over answered calls.",
        "sum(ended_at - answered_at) / count(answered and ended)"),
    "callbacks_requested": Definition(
        "Nieuwe terugbelverzoeken in het kwartier (een tweede verzoek voor dezelfde vraag voegt zich bij het "
        "eerste en telt niet opnieuw).",
        "New callback requests in the quarter hour (a second request for the same question joins the first and "
        "does not count again).",
        "count(callback_events with from_state null and at in the interval)"),
    "callbacks_completed": Definition(
        "Terugbelverzoeken die in het kwartier werden afgerond (beller gesproken).",
        "Callbacks completed in the quarter hour (the caller was reached).",
        "count(callback_events to completed, at in the interval)"),
    "callbacks_failed": Definition(
        "Terugbelverzoeken die in het kwartier mislukten (beller na alle pogingen niet bereikt).",
        "Callbacks that failed in the quarter hour (the caller not reached after every attempt).",
        "count(callback_events to failed, at in the interval)"),
    "in_progress": Definition(
        "Gesprekken zonder uitkomst op het moment van berekenen: de beller zat nog in het menu of de wachtrij.",
        "Calls without an outcome when the figures were computed: the caller was still in the menu or the queue.",
        "count(received and no outcome)"),
}

# The evaluation: whether conversations worked (callrouter.domain.evaluation, docs/statistics.md).
DEFINITIONS.update({
    "conversations": Definition(
        "Gesprekken met een medewerker: opgenomen gesprekken plus terugbelgesprekken waarin de beller werd bereikt.",
        "Conversations with a liaison: answered calls plus callbacks in which the caller was reached.",
        "answered + callback_conversations"),
    "callback_conversations": Definition(
        "Terugbelgesprekken: de medewerker belde terug en de beller nam op. Ze tellen niet als binnengekomen "
        "gesprekken (het verzoek telde al); ze tellen in het kwartier waarin het gesprek begon.",
        "Callback conversations: the liaison called back and the caller answered. Not counted as calls received "
        "(the request was counted already); counted in the quarter hour the conversation began.",
        "count(call rows of a callback conversation with an answer)"),
    "average_callback_talk_time_seconds": Definition(
        "Gemiddelde duur van terugbelgesprekken, van opnemen door de beller tot het einde.",
        "Average length of callback conversations, from the caller answering to the end.",
        "callback_talk_ms / callback_conversations"),
    "results_recorded": Definition(
        "Gesprekken waarvan de medewerker het resultaat vastlegde (opgelost, vervolg, doorverwezen, niet voor ons).",
        "Conversations whose liaison recorded the result (resolved, follow-up, referred, not for us).",
        "count(conversations with an outcome_recorded event)"),
    "results_recorded_share": Definition(
        "Deel van de gesprekken met een vastgelegd resultaat. Doel: 90 % (aandacht vanaf 70 %).",
        "Share of conversations with a recorded result. Target: 90 % (attention from 70 %).",
        "results_recorded / conversations; empty when there are no conversations"),
    "result_resolved": Definition("Resultaat: opgelost.", "Result: resolved.", "last recorded result = resolved"),
    "result_follow_up": Definition("Resultaat: vervolg door de eigen organisatie.",
                                   "Result: follow-up by the own organisation.", "last recorded result = follow_up"),
    "result_referred": Definition("Resultaat: doorverwezen naar een andere organisatie.",
                                  "Result: referred to another organisation.", "last recorded result = referred"),
    "result_not_for_us": Definition("Resultaat: niet voor ons.", "Result: not for us.",
                                    "last recorded result = not_for_us"),
    "verdicts_asked": Definition(
        "Bellers die na het gesprek de vraag hoorden of hun vraag beantwoord is (alleen op lijnen waar die vraag "
        "aan staat).", "Callers who heard, after the conversation, whether their question was answered (only on "
        "lines where that question is on).", "count(verdict_asked events)"),
    "verdicts": Definition("Bellers die de vraag beantwoordden met 1 (ja), 2 (deels) of 3 (nee).",
                           "Callers who answered the question with 1 (yes), 2 (partly) or 3 (no).",
                           "verdict_yes + verdict_partly + verdict_no"),
    "verdict_response_share": Definition("Deel van de gevraagde bellers dat antwoordde.",
                                         "Share of the callers asked who answered.", "verdicts / verdicts_asked"),
    "verdict_yes": Definition("Oordeel: ja, beantwoord.", "Verdict: yes, answered.", "count(verdict = yes)"),
    "verdict_partly": Definition("Oordeel: deels beantwoord.", "Verdict: partly answered.", "count(verdict = partly)"),
    "verdict_no": Definition("Oordeel: nee, niet beantwoord.", "Verdict: no, not answered.", "count(verdict = no)"),
    "verdict_yes_share": Definition("Deel van de oordelen dat ja is.", "Share of verdicts that are yes.",
                                    "verdict_yes / verdicts"),
    "verdict_partly_share": Definition("Deel van de oordelen dat deels is.", "Share of verdicts that are partly.",
                                       "verdict_partly / verdicts"),
    "verdict_no_share": Definition("Deel van de oordelen dat nee is.", "Share of verdicts that are no.",
                                   "verdict_no / verdicts"),
})

# Transfers between organisations (callrouter.domain.statistics_transfers, docs/statistics.md).
_BOTH = ("Een doorverbonden gesprek telt bij elke organisatie die het bereikte, dus opgeteld over organisaties "
         "kunnen er meer gesprekken zijn dan er binnenkwamen. ",
         "A transferred call counts for every organisation it reached, so summed over organisations there may be "
         "more calls than arrived. ")
DEFINITIONS.update({
    "transfers_out": Definition(
        _BOTH[0] + "Gesprekken die een medewerker doorverbond naar een andere organisatie: blind, na overleg of "
        "met z'n drieën. Ze tellen hier ook als opgenomen, met uitkomst doorverbonden.",
        _BOTH[1] + "Calls a liaison transferred to another organisation: blind, after a consult, or three-way. "
        "They also count here as answered, with outcome transferred.",
        "count(transferred events to another organisation; a three-way call completed later counts once)"),
    "transfers_out_blind": Definition("Doorverbonden zonder overleg: de beller wacht in de rij van de andere "
                                      "organisatie.", "Transferred without a consult: the caller waits in the "
                                      "other organisation's line.", "count(transfers out of kind blind)"),
    "transfers_out_consult": Definition("Doorverbonden na overleg (de beller in de wacht).",
                                        "Transferred after a consult (the caller on hold).",
                                        "count(transfers out of kind consult)"),
    "transfers_out_three_way": Definition("Met z'n drieën in gesprek: beller en medewerkers van beide "
                                          "organisaties.", "Three-way call: the caller and liaisons of both "
                                          "organisations.", "count(transfers out of kind three_way)"),
    "transfers_in": Definition(
        _BOTH[0] + "Gesprekken die deze organisatie kreeg van een andere organisatie. Ze tellen ook als "
        "binnengekomen en in de wachtrij gekomen; de wachttijd telt vanaf het doorverbinden (blind) of vanaf de "
        "vraag om overleg (overleg, met z'n drieën).",
        _BOTH[1] + "Calls this organisation received from another organisation. They also count as received and "
        "offered; the speed of answer runs from the transfer (blind) or the consult request (consult, three-way).",
        "count(parts of calls that began with a transfer to this organisation)"),
    "transfers_in_answered": Definition(
        "Doorverbonden gesprekken die een medewerker van deze organisatie opnam (bij overleg: de medewerker kwam "
        "in het gesprek).", "Transferred calls a liaison of this organisation answered (consult: the liaison "
        "joined the room).", "count(transfers in with an answer)"),
    "transfers_in_answered_share": Definition("Deel van de doorverbonden gesprekken dat werd opgenomen.",
                                              "Share of transferred calls that were answered.",
                                              "transfers_in_answered / transfers_in; empty when there are none"),
    "average_to_last_liaison_seconds": Definition(
        "Gemiddelde tijd van het eerste binnenkomen in een wachtrij tot de laatste medewerker opnam, over "
        "opgenomen gesprekken; telt bij de organisatie van die laatste medewerker, één keer per gesprek. Zonder "
        "doorverbinden gelijk aan de wachttijd.",
        "Average time from first entering a queue to the last liaison answering, over answered calls; counted for "
        "that last liaison's organisation, once per call. Without a transfer it equals the speed of answer.",
        "sum(last part's answered_at - first queued_at) / count"),
})

OUTCOME_DEFINITIONS: dict[str, Definition] = {
    "answered": Definition("Een medewerker nam op.", "A liaison answered.", "an answered event"),
    "transferred": Definition("Opgenomen en daarna doorverbonden (blind, na overleg of met z'n drieën); telt bij "
                              "de organisatie die doorverbond. De andere organisatie telt het gesprek met zijn "
                              "eigen uitkomst daar.",
                              "Answered and then transferred (blind, after a consult, or three-way); counted for "
                              "the organisation that transferred. The other organisation counts the call with its "
                              "own outcome there.",
                              "an answered event followed by a transferred event (this organisation's part)"),
    "callback_requested": Definition("De beller vroeg om terugbellen (in de wachtrij, bij gesloten of bij niemand "
                                     "aanwezig).", "The caller asked for a callback (in the queue, when closed, "
                                     "or with nobody on duty).", "a callback_requested event, not answered"),
    "refused": Definition("Geweigerd: onbekende code of pincode, of geblokkeerd.",
                          "Refused: unknown code or PIN, or locked out.", "a refused or locked_out event"),
    "closed": Definition("Gebeld buiten openingstijden.", "Called outside opening hours.", "a closed event"),
    "no_liaison": Definition("Niemand van de organisatie aanwezig.", "Nobody of the organisation on duty.",
                             "a no_liaison event"),
    "failed": Definition("Technische fout.", "A technical failure.",
                         "an error event, or the first end of the call has status failed"),
    "abandoned_in_queue": Definition("Opgehangen in de wachtrij.", "Hung up in the queue.",
                                     "ended after a queued event, none of the above"),
    "abandoned_in_menu": Definition("Opgehangen in het keuzemenu.", "Hung up in the menu.",
                                    "ended without a queued event, none of the above"),
}

for _name, _definition in OUTCOME_DEFINITIONS.items():
    DEFINITIONS[f"outcome_{_name}"] = _definition


def _filled(base: Definition, **values: str) -> Definition:
    texts = [base.nl, base.en, base.formula]
    for name, value in values.items():
        texts = [text.replace("{" + name + "}", value) for text in texts]
    return Definition(*texts)


def definition(figure: str, *, short_abandon_seconds: float = 5) -> Definition | None:
    """The definition of a figure name from Totals.figures(), thresholds filled in."""
    short = f"{short_abandon_seconds:g}"
    if figure in DEFINITIONS:
        return _filled(DEFINITIONS[figure], S=short)
    for prefix in ("answered_within", "service_level"):
        if figure.startswith(prefix + "_") and figure.endswith("s"):
            threshold = figure[len(prefix) + 1:-1]
            if threshold.isdigit():
                return _filled(DEFINITIONS[prefix], T=threshold, S=short)
    return None
