"""Music, Movies and Education (books) tools."""

from __future__ import annotations

from steptool_envs.toolbench.endpoints import Spec, ToolSpec, boolean, number, page, string
from steptool_envs.toolbench.handlers import ByField, Detail, Related, Search
from steptool_envs.toolbench.world import World
from steptool_gym.status import Status

__all__ = ["tools"]

_TOP_ASKS = ("What is the most played song by {e}, and how many plays does it have?",
             "Which song by {e} has the most plays, and how many?")
_ALBUM_ASKS = ("Which albums has {e} released?", "List the albums of {e}.")


def _music(w: World) -> list[ToolSpec]:
    ar, al, so = w.artists, w.albums, w.songs
    track = {"id": "song_id", "name": "title", "album": "album", "playcount": "plays"}
    artist_id = string("artist_id", "Artist id from the search endpoint", "4q3ewBCX7sLwd24euuV69X")
    return [
        ToolSpec("Music", "Spotify", "Search and browse artists, albums and tracks on Spotify.", (
            Spec("Search Artists", "Artists matching a name.",
                 Search(ar, "q", {"artist_id": "artist_id", "name": "name", "genre": "genre"}, exact_param="exact"),
                 (string("q", "Search query", "Adele"),),
                 (boolean("exact", "Only return artists whose name matches exactly", False),)),
            Spec("Artist Overview", "Followers, genre and monthly listeners of an artist id.",
                 Detail(ar, "artist_id", {"name": "name", "genre": "genre", "followers": "followers",
                                          "monthly_listeners": "monthly_listeners"}), (artist_id,),
                 asks=("How many followers and monthly listeners does {e} have on Spotify?",
                       "Give me {e}'s Spotify follower count and monthly listeners."),
                 facts=("followers", "monthly_listeners")),
            Spec("Artist Albums", "Albums of an artist id, paginated.",
                 Related(ar, "artist_id", "album_ids", al, {"album_id": "album_id", "name": "title",
                                                             "release_year": "year"}), (artist_id,), (page(),),
                 asks=_ALBUM_ASKS, facts=("results.0.name",)),
            Spec("Artist Top Tracks", "The five most played tracks of an artist id.",
                 Related(ar, "artist_id", "top_song_ids", so, track), (artist_id,), (page(),), asks=_TOP_ASKS,
                 facts=("results.0.name", "results.0.playcount"), flaky=Status.RATE_LIMIT),
            Spec("Album Tracks", "Tracks of an album id.",
                 Related(al, "album_id", "song_ids", so, {"id": "song_id", "name": "title",
                                                          "track_number": "track_number"}),
                 (string("album_id", "Album id", "al00012345"),), (page(),),
                 asks=("What's the first track on the album {e}?",), facts=("results.0.name",)),
        )),
        ToolSpec("Music", "Deezer", "Deezer's public API for artists, albums and tracks.", (
            Spec("Search", "Artists matching a query.", Search(ar, "q", {"artist_id": "artist_id", "name": "name"},
                                                               wrap="data"), (string("q", "Query", "Daft Punk"),)),
            Spec("Artist", "An artist by id.", Detail(ar, "artist_id", {"name": "name", "nb_fan": "followers",
                                                                        "country": "country"}), (artist_id,),
                 asks=("Which country is {e} from?", "Where does {e} come from?"), facts=("country",)),
            Spec("Album", "An album by id.", Detail(al, "album_id", {"title": "title", "artist": "artist",
                                                                     "release_date": "year", "nb_tracks": "tracks",
                                                                     "label": "label"}),
                 (string("album_id", "Album id", "al00012345"),)),
            Spec("Search Album", "Albums matching a title.",
                 Search(al, "q", {"album_id": "album_id", "title": "title", "artist": "artist"}, wrap="data"),
                 (string("q", "Album title", "Golden Echo"),)),
            Spec("Album Label", "Record label and release year of an album by title.",
                 Detail(al, "title", {"title": "title", "label": "label", "release_date": "year"}, by="name"),
                 (string("title", "Album title", "Golden Echo"),),
                 asks=("Which record label released the album {e}?", "When did the album {e} come out and on "
                       "which label?"), facts=("label", "release_date")),
        )),
        ToolSpec("Music", "Shazam", "Identify songs and get track details from Shazam.", (
            Spec("Search Track", "Tracks matching a title.", Search(so, "term", {"song_id": "song_id", "title": "title",
                                                                                  "subtitle": "artist"}),
                 (string("term", "Song title", "Midnight River"),)),
            Spec("Track Details", "Duration, album and tempo of a song id.",
                 Detail(so, "song_id", {"title": "title", "subtitle": "artist", "album": "album",
                                        "duration": "duration_s", "bpm": "bpm"}),
                 (string("song_id", "Song id", "so0001001234"),),
                 asks=("Who sings {e}, and which album is it on?",
                       "Which album is the song {e} on, and who is the artist?"),
                 facts=("subtitle", "album")),
            Spec("Artist Top Songs", "Top songs of an artist id.", Related(ar, "artist_id", "top_song_ids", so, track),
                 (artist_id,), (page(),), asks=("What is the most popular song by {e}?",
                                                "Which track of {e} is the biggest hit?"),
                 facts=("results.0.name",)),
            Spec("Search Artist", "Artists matching a name.", Search(ar, "term", {"artist_id": "artist_id",
                                                                                  "name": "name"}),
                 (string("term", "Artist name", "Adele"),)),
        )),
        ToolSpec("Music", "Genius Song Lyrics", "Songs, artists and annotations from Genius.", (
            Spec("Search Songs", "Songs matching a title.", Search(so, "q", {"song_id": "song_id", "title": "title",
                                                                              "artist": "artist"}, wrap="hits"),
                 (string("q", "Song title", "Midnight River"),)),
            Spec("Song Stats", "Play count and explicit flag of a song id.",
                 Detail(so, "song_id", {"title": "title", "pageviews": "plays", "explicit": "explicit"}),
                 (string("song_id", "Song id", "so0001001234"),),
                 asks=("How many times has {e} been played?",), facts=("pageviews",), flaky=Status.API_NOT_WORKING),
            Spec("Artist Songs", "All songs of an artist id, paginated.",
                 Related(ar, "artist_id", "song_ids", so, {"song_id": "song_id", "title": "title"}), (artist_id,),
                 (page(),), asks=("How many songs has {e} recorded?",), facts=("total",)),
            Spec("Search Artists", "Artists matching a name.", Search(ar, "q", {"artist_id": "artist_id",
                                                                              "name": "name"}, wrap="hits"),
                 (string("q", "Artist name", "Adele"),)),
        )),
        ToolSpec("Music", "Billboard API", "Chart statistics for artists and albums.", (
            Spec("Artist Stats", "Genre and follower statistics for an artist name.",
                 Detail(ar, "artist", {"artist": "name", "genre": "genre", "followers": "followers"}, by="name"),
                 (string("artist", "Artist name", "Adele"),),
                 asks=("What genre does {e} play?", "Which music genre is {e} known for?"), facts=("genre",)),
            Spec("Album Info", "Year and track count of an album title.",
                 Detail(al, "album", {"album": "title", "artist": "artist", "year": "year", "tracks": "tracks"},
                        by="name"), (string("album", "Album title", "Golden Echo"),),
                 asks=("Who recorded the album {e}, and in what year?", "Which artist released {e}, and when?"),
                 facts=("artist", "year")),
        )),
    ]


def _movies(w: World) -> list[ToolSpec]:
    mv, pe = w.movies, w.people
    tconst = string("tconst", "IMDb title id, e.g. tt0944947", "tt0944947")
    return [
        ToolSpec("Movies", "IMDb", "Titles, ratings, cast and filmographies from IMDb.", (
            Spec("Find Title", "Titles matching a query.", Search(mv, "q", {"tconst": "movie_id", "title": "title",
                                                                            "year": "year"}),
                 (string("q", "Title to search", "Inception"),)),
            Spec("Get Ratings", "IMDb rating and vote count of a title id.",
                 Detail(mv, "tconst", {"title": "title", "rating": "rating", "ratingCount": "votes"}), (tconst,),
                 asks=("What's the IMDb rating of {e}?", "How well rated is the movie {e}?"),
                 facts=("rating",), flaky=Status.RATE_LIMIT),
            Spec("Get Overview", "Year, genre, runtime and director of a title id.",
                 Detail(mv, "tconst", {"title": "title", "year": "year", "genre": "genre", "runtime": "runtime_min",
                                       "director": "director"}), (tconst,),
                 asks=("Who directed {e}, and what genre is it?",
                       "Who is the director of the film {e}, and what genre is it?"),
                 facts=("director", "genre")),
            Spec("Search Name", "People matching a name.", Search(pe, "name", {"nconst": "person_id",
                                                                               "name": "name"}),
                 (string("name", "Person name", "Emma Stone"),)),
            Spec("Get Filmography", "Titles a person id acted in.",
                 Related(pe, "nconst", "movie_ids", mv, {"tconst": "movie_id", "title": "title", "year": "year"}),
                 (string("nconst", "IMDb name id", "nm0000123"),), (page(),),
                 asks=("Which movies has {e} acted in?", "Name a film starring {e}."), facts=("results.0.title",)),
        )),
        ToolSpec("Movies", "Movie Database (TMDB)", "The Movie Database: movies, people and credits.", (
            Spec("Search Movie", "Movies matching a title.", Search(mv, "query", {"movie_id": "movie_id",
                                                                                  "title": "title"}),
                 (string("query", "Movie title", "Inception"),)),
            Spec("Movie Details", "Runtime, language and box office of a movie id.",
                 Detail(mv, "movie_id", {"title": "title", "runtime": "runtime_min", "original_language": "language",
                                         "revenue_musd": "box_office_musd"}),
                 (string("movie_id", "Movie id", "tt0944947"),),
                 asks=("How long is the movie {e}?", "What is the runtime of {e}?"), facts=("runtime",)),
            Spec("Movie Credits", "Main cast of a movie id.",
                 Detail(mv, "movie_id", {"title": "title", "cast": "cast", "director": "director"}),
                 (string("movie_id", "Movie id", "tt0944947"),),
                 asks=("Who stars in {e}?", "Who are the lead actors of {e}?"), facts=("cast.0", "cast.1")),
            Spec("Person Details", "Birth year and birthplace of a person by name.",
                 Detail(pe, "name", {"name": "name", "birthday": "birth_year", "place_of_birth": "birthplace"},
                        by="name"), (string("name", "Person name", "Emma Stone"),),
                 asks=("When and where was {e} born?", "Where and in which year was {e} born?"),
                 facts=("birthday", "place_of_birth")),
        )),
        ToolSpec("Movies", "Box Office Mojo", "Worldwide box office grosses.", (
            Spec("Box Office by Title", "Worldwide gross of a movie title in millions of dollars.",
                 Detail(mv, "title", {"title": "title", "worldwide_gross_musd": "box_office_musd"}, by="name"),
                 (string("title", "Movie title", "Inception"),),
                 asks=("How much money did {e} make at the box office?",), facts=("worldwide_gross_musd",),
                 flaky=Status.API_NOT_WORKING),
            Spec("Top Grossing by Genre", "Movies of a genre with their grosses.",
                 ByField(mv, "genre", "genre", {"title": "title", "gross_musd": "box_office_musd"}),
                 (string("genre", "Genre name", "Comedy"),), (page(),)),
            Spec("Yearly Releases", "Movies released in a year.",
                 ByField(mv, "year", "year", {"title": "title", "gross_musd": "box_office_musd"}),
                 (number("year", "Release year", 2010),), (page(),)),
        )),
        ToolSpec("Movies", "Movies by Genre", "Browse movies by genre with ratings.", (
            Spec("List by Genre", "Movies of a genre, paginated.",
                 ByField(mv, "genre", "genre", {"title": "title", "rating": "rating", "year": "year"}),
                 (string("genre", "Genre name", "Drama"),), (page(),),
                 asks=("How many {e} movies are in the database?", "Count the {e} films you know about."),
                 facts=("total",)),
            Spec("Title Year", "Release year of a movie title.", Detail(mv, "title", {"title": "title", "year": "year"},
                                                                       by="name"),
                 (string("title", "Movie title", "Inception"),), asks=("In which year was {e} released?",),
                 facts=("year",)),
        )),
    ]


def _books(w: World) -> list[ToolSpec]:
    bk, au = w.books, w.authors
    isbn = string("isbn", "ISBN-13", "9780140449136")
    return [
        ToolSpec("Education", "Open Library", "Books, authors and editions from the Internet Archive's Open Library.", (
            Spec("Search Books", "Books matching a title.", Search(bk, "title", {"isbn": "isbn", "title": "title",
                                                                                 "author_name": "author"}, wrap="docs"),
                 (string("title", "Book title", "The Silent Garden"),)),
            Spec("ISBN Lookup", "Publisher, pages and year of an ISBN.",
                 Detail(bk, "isbn", {"title": "title", "publishers": "publisher", "number_of_pages": "pages",
                                     "publish_year": "year"}), (isbn,),
                 asks=("How many pages does {e} have, and who published it?",
                       "Who published the book {e}, and how many pages is it?"),
                 facts=("number_of_pages", "publishers")),
            Spec("Search Authors", "Authors matching a name.", Search(au, "q", {"author_key": "author_id",
                                                                               "name": "name"}, wrap="docs"),
                 (string("q", "Author name", "Leo Tanaka"),)),
            Spec("Author Works", "Books of an author key, paginated.",
                 Related(au, "author_key", "book_ids", bk, {"isbn": "isbn", "title": "title", "year": "year"}),
                 (string("author_key", "Open Library author key", "OL123456A"),), (page(),),
                 asks=("Which books has {e} written?", "List the works of {e}."),
                 facts=("results.0.title",)),
        )),
        ToolSpec("Education", "Google Books", "Search the full text of books and get volume information.", (
            Spec("Volumes Search", "Volumes matching a query.", Search(bk, "q", {"volume_id": "isbn", "title": "title"},
                                                                       wrap="items"),
                 (string("q", "Query", "The Silent Garden"),)),
            Spec("Volume Details", "Subject, rating and price of a volume id.",
                 Detail(bk, "volume_id", {"title": "title", "categories": "subject", "averageRating": "rating",
                                          "listPrice": "price"}), (string("volume_id", "Volume id", "9780140449136"),),
                 asks=("What's the average rating of the book {e}, and how much does it cost?",
                       "How much does {e} cost on Google Books, and how is it rated?"),
                 facts=("averageRating", "listPrice"), flaky=Status.TIMEOUT),
            Spec("Books by Publisher", "Volumes of a publisher, paginated.",
                 ByField(bk, "publisher", "publisher", {"volume_id": "isbn", "title": "title"}),
                 (string("publisher", "Publisher name", "Meridian"),), (page(),),
                 asks=("How many books has {e} published?",), facts=("total",)),
        )),
        ToolSpec("Education", "Goodreads", "Book ratings and author profiles.", (
            Spec("Book Rating", "Average rating and author of a book title.",
                 Detail(bk, "title", {"title": "title", "author": "author", "average_rating": "rating"}, by="name"),
                 (string("title", "Book title", "The Silent Garden"),),
                 asks=("Who wrote {e}, and what's its average rating?",
                       "Who is the author of {e}, and how is it rated?"),
                 facts=("author", "average_rating")),
            Spec("Author Info", "Birth year and nationality of an author by name.",
                 Detail(au, "name", {"name": "name", "born": "birth_year", "nationality": "nationality"}, by="name"),
                 (string("name", "Author name", "Leo Tanaka"),),
                 asks=("When was {e} born, and what nationality are they?",
                       "Give me the birth year and nationality of {e}."),
                 facts=("born", "nationality")),
        )),
        ToolSpec("Education", "Books by Subject", "Browse books by subject.", (
            Spec("Subject Books", "Books of a subject, paginated.",
                 ByField(bk, "subject", "subject", {"title": "title", "author": "author", "year": "year"}),
                 (string("subject", "Subject name", "History"),), (page(),),
                 asks=("How many {e} books are available?", "Count the books on {e} in the catalogue."),
                 facts=("total",)),
            Spec("Book Subject", "Subject and year of a book title.",
                 Detail(bk, "title", {"title": "title", "subject": "subject", "year": "year"}, by="name"),
                 (string("title", "Book title", "The Silent Garden"),),
                 asks=("What subject is the book {e} about?",), facts=("subject",)),
        )),
    ]


def tools(world: World) -> list[ToolSpec]:
    return _music(world) + _movies(world) + _books(world)
