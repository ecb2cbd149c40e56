"""Sports tools (football, basketball and cricket leagues)."""

from __future__ import annotations

from steptool_envs.toolbench.endpoints import Spec, ToolSpec, number, page, string
from steptool_envs.toolbench.handlers import ByField, Detail, Related, Search
from steptool_envs.toolbench.world import World
from steptool_gym.status import Status

__all__ = ["tools"]

_SQUAD_ASKS = ("Who plays for {e}?", "List the squad of {e}.", "Name some players of {e}.")


def tools(w: World) -> list[ToolSpec]:
    tm, pl = w.teams, w.players
    team_id = number("team_id", "Team id from the team search", 33)
    player_id = number("player_id", "Player id", 9001)
    squad = {"player_id": "player_id", "name": "name", "position": "position"}
    return [
        ToolSpec("Sports", "API-Football", "Teams, squads and player statistics for football and other leagues.", (
            Spec("Search Teams", "Teams matching a name.", Search(tm, "search", {"team_id": "team_id", "name": "name",
                                                                                 "league": "league"}, wrap="response"),
                 (string("search", "Team name", "Manchester United"),)),
            Spec("Team Statistics", "Wins, losses and league rank of a team id.",
                 Detail(tm, "team_id", {"team": "name", "league": "league", "rank": "rank", "wins": "wins",
                                        "losses": "losses"}), (team_id,),
                 asks=("How many games have {e} won this season, and where do they rank?",
                       "Where do {e} rank in their league, and how many wins do they have?"),
                 facts=("wins", "rank"), flaky=Status.RATE_LIMIT),
            Spec("Squad", "Players of a team id, paginated.", Related(tm, "team_id", "player_ids", pl, squad),
                 (team_id,), (page(),), asks=_SQUAD_ASKS, facts=("results.0.name",)),
            Spec("Player Statistics", "Goals and appearances of a player id.",
                 Detail(pl, "player_id", {"name": "name", "team": "team", "goals": "goals",
                                          "appearances": "appearances"}), (player_id,),
                 asks=("How many goals has {e} scored, and in how many appearances?",
                       "Give me the goals and appearances of {e} this season."),
                 facts=("goals", "appearances")),
            Spec("Search Players", "Players matching a name.",
                 Search(pl, "search", {"player_id": "player_id", "name": "name", "team": "team"}, wrap="response"),
                 (string("search", "Player name", "Lionel Messi"),)),
        )),
        ToolSpec("Sports", "TheSportsDB", "Open, crowd-sourced sports database of teams and players.", (
            Spec("Search Team", "A team by exact name.",
                 Detail(tm, "t", {"strTeam": "name", "intFormedYear": "founded", "strStadium": "stadium",
                                  "strLeague": "league"}, by="name"), (string("t", "Team name", "Arsenal"),),
                 asks=("When was {e} founded, and what's their home stadium?",
                       "What's the home stadium of {e}, and when was the club founded?"),
                 facts=("intFormedYear", "strStadium")),
            Spec("Search Player", "Players matching a name.",
                 Search(pl, "p", {"id_player": "player_id", "strPlayer": "name", "strTeam": "team"}, wrap="player"),
                 (string("p", "Player name", "Lionel Messi"),)),
            Spec("Lookup Player", "Nationality, age and position of a player id.",
                 Detail(pl, "id_player", {"strPlayer": "name", "strNationality": "nationality", "age": "age",
                                         "strPosition": "position"}), (number("id_player", "Player id", 9001),),
                 asks=("Which country is {e} from, and what position do they play?",
                       "What position does {e} play, and what's their nationality?"),
                 facts=("strNationality", "strPosition")),
            Spec("League Table", "Teams of a league ordered by rank.",
                 ByField(tm, "league", "league", {"team": "name", "rank": "rank", "points": "points"}),
                 (string("league", "League name", "Premier Division"),), (page(),),
                 asks=("Which team leads the {e}?", "Who is top of the {e} table?"), facts=("results.0.team",)),
        )),
        ToolSpec("Sports", "Transfermarkt", "Market values and transfers of football players.", (
            Spec("Search", "Players matching a name.", Search(pl, "query", {"player_id": "player_id", "name": "name"}),
                 (string("query", "Player name", "Lionel Messi"),)),
            Spec("Player Market Value", "Market value in millions of euros of a player id.",
                 Detail(pl, "player_id", {"name": "name", "market_value_meur": "market_value_musd", "age": "age"}),
                 (player_id,), asks=("What is {e}'s market value?", "How much is {e} worth on the transfer "
                                     "market?"), facts=("market_value_meur",), flaky=Status.API_NOT_WORKING),
            Spec("Club Search", "Clubs matching a name.", Search(tm, "query", {"club_id": "team_id", "name": "name"}),
                 (string("query", "Club name", "Arsenal"),)),
            Spec("Club Profile", "Coach and stadium of a club id.",
                 Detail(tm, "club_id", {"name": "name", "coach": "coach", "stadium": "stadium", "city": "city"}),
                 (number("club_id", "Club id", 33),),
                 asks=("Who coaches {e}?", "Who is the head coach of {e}?"), facts=("coach",)),
        )),
        ToolSpec("Sports", "League Standings", "Live league tables for many sports.", (
            Spec("Standings", "Standings of a league.",
                 ByField(tm, "league", "league", {"team": "name", "rank": "rank", "wins": "wins", "points": "points"}),
                 (string("league", "League name", "Premier Division"),), (page(),),
                 asks=("Who leads the {e}, and with how many points?",
                       "Show me the top of the {e} standings with points."),
                 facts=("results.0.team", "results.0.points")),
            Spec("Team Rank", "Rank and points of a team by name.",
                 Detail(tm, "team", {"team": "name", "rank": "rank", "points": "points"}, by="name"),
                 (string("team", "Team name", "Arsenal"),),
                 asks=("How many points do {e} have, and what position are they in?",
                       "Where are {e} in the table, and on how many points?"),
                 facts=("points", "rank")),
        )),
        ToolSpec("Sports", "Player Profiles", "Biographical data of professional athletes.", (
            Spec("Player by Name", "Age, jersey number and team of a player by exact name.",
                 Detail(pl, "name", {"name": "name", "age": "age", "jersey_number": "jersey_number", "team": "team"},
                        by="name"), (string("name", "Player name", "Lionel Messi"),),
                 asks=("Which team does {e} play for, and what is their shirt number?",
                       "What shirt number does {e} wear, and for which team?"),
                 facts=("team", "jersey_number")),
            Spec("Players by Team", "Players of a team id.",
                 Related(tm, "team_id", "player_ids", pl, {"player_id": "player_id", "name": "name",
                                                           "jersey_number": "jersey_number"}),
                 (team_id,), (page(),)),
            Spec("Find Team", "Teams matching a name.", Search(tm, "name", {"team_id": "team_id", "name": "name"}),
                 (string("name", "Team name", "Arsenal"),)),
        )),
    ]
