"""Render the domain's voice actions to TwiML with twilio's VoiceResponse; each `Goto` becomes an absolute URL."""

from __future__ import annotations

from collections.abc import Callable

from twilio.twiml.voice_response import Dial as TwDial
from twilio.twiml.voice_response import Gather as TwGather
from twilio.twiml.voice_response import VoiceResponse

from callrouter.domain import voice as v
from callrouter.domain.call_flow import Goto

VOICES = {"nl": "Polly.Lotte", "en": "Polly.Amy"}


class TwimlRenderer:
    def __init__(self, public_url: str, *, url_of: Callable[[Goto], str]):
        self._base = public_url.rstrip("/")
        self._url_of = url_of

    def url(self, path: str) -> str:
        """A media URL (hold music, a recording): absolute as given, or a path on the public URL."""
        return path if path.startswith(("http://", "https://")) else self._base + path

    def _prompt(self, target: VoiceResponse | TwGather, prompt: v.Prompt) -> None:
        if isinstance(prompt, v.Say):
            target.say(prompt.text, language=v.LANGUAGE_CODES.get(prompt.language, "nl-NL"),
                       voice=VOICES.get(prompt.language))
        elif isinstance(prompt, v.Play):
            target.play(self.url(prompt.url))
        else:
            target.pause(length=prompt.seconds)

    def _room(self, join: v.JoinRoom) -> TwDial:
        """<Dial action><Conference ...>: the call's room; its reports for start, end, join and leave."""
        dial = TwDial(action=self._url_of(join.action), method="POST") if join.action is not None else TwDial()
        options: dict[str, object] = {
            "start_conference_on_enter": join.starts, "end_conference_on_exit": join.ends, "beep": False,
            "status_callback": self._url_of(join.events), "status_callback_method": "POST",
            "status_callback_event": "start end join leave",
        }
        if join.hold is not None:
            options.update(wait_url=self._url_of(join.hold), wait_method="POST")
        if join.label is not None:
            options["participant_label"] = join.label
        dial.conference(join.room, **options)
        return dial

    def render(self, reply: v.VoiceReply) -> str:
        response = VoiceResponse()
        for action in reply.actions:
            if isinstance(action, v.Say | v.Play | v.Pause):
                self._prompt(response, action)
            elif isinstance(action, v.Gather):
                gather = TwGather(
                    input="dtmf", action=self._url_of(action.action), method="POST", timeout=action.timeout,
                    num_digits=action.num_digits, finish_on_key=action.finish_on_key,
                    action_on_empty_result=action.action_on_empty_result,
                )
                for prompt in action.prompts:
                    self._prompt(gather, prompt)
                response.append(gather)
            elif isinstance(action, v.Record):
                response.record(action=self._url_of(action.action), method="POST", max_length=action.max_length,
                                timeout=action.timeout, finish_on_key=action.finish_on_key, play_beep=True)
            elif isinstance(action, v.Enqueue):
                response.enqueue(action.queue, action=self._url_of(action.action), method="POST",
                                 wait_url=self._url_of(action.wait), wait_url_method="POST")
            elif isinstance(action, v.Leave):
                response.leave()
            elif isinstance(action, v.Redirect):
                response.redirect(self._url_of(action.to), method="POST")
            elif isinstance(action, v.Dial):
                dial = TwDial(action=self._url_of(action.action), method="POST", timeout=action.timeout,
                              caller_id=action.caller_id)
                target: dict[str, str] = {}
                if action.whisper is not None:
                    target.update(url=self._url_of(action.whisper), method="POST")
                if action.status_callback is not None:
                    target.update(status_callback=self._url_of(action.status_callback),
                                  status_callback_event="initiated ringing answered completed",
                                  status_callback_method="POST")
                if action.address.startswith("sip:"):
                    dial.sip(action.address, **target)
                elif action.address.startswith("client:"):
                    dial.client(action.address.removeprefix("client:"), **target)
                else:
                    dial.number(action.address, **target)
                response.append(dial)
            elif isinstance(action, v.JoinRoom):
                response.append(self._room(action))
            elif isinstance(action, v.Hangup):
                response.hangup()
            elif isinstance(action, v.Reject):
                response.reject(reason=action.reason)
            else:  # pragma: no cover - exhaustive over the domain's actions
                raise TypeError(f"cannot render {action!r}")
        return str(response)
