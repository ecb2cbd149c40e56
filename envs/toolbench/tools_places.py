"""Weather, Data (countries and cities) and Travel tools."""

from __future__ import annotations

from steptool_envs.toolbench.endpoints import Spec, ToolSpec, boolean, number, page, string
from steptool_envs.toolbench.handlers import ByField, Convert, Detail, Embedded, Flights, Search
from steptool_envs.toolbench.world import World
from steptool_gym.status import Status

__all__ = ["tools"]

_CITY_HIT = {"city_id": "city_id", "name": "name", "country": "country", "lat": "lat", "lon": "lon"}
_CURRENT = {"location": {"name": "name", "country": "country", "tz_id": "timezone"},
            "current": {"temp_c": "temp_c", "feelslike_c": "feels_like_c", "condition": "condition",
                        "humidity": "humidity", "wind_kph": "wind_kph"}}
_WEATHER_ASKS = ("What's the temperature and sky condition in {e} right now?",
                 "Can you tell me the current temperature and conditions in {e}?",
                 "How warm is it in {e} at the moment, and is it sunny or rainy?",
                 "I'd like to know today's temperature and weather conditions in {e}.")


def _weather(w: World) -> list[ToolSpec]:
    q = string("q", "City name to search, e.g. 'Paris'", "London")
    city_id = number("city_id", "Numeric city id as returned by the search endpoint", 1000)
    c = w.cities
    return [
        ToolSpec("Weather", "WeatherAPI.com", "WeatherAPI.com is a powerful fully managed free weather and "
                 "geolocation API provider that provides extensive APIs for realtime weather and forecasts.", (
            Spec("Search/Autocomplete API", "Search or Autocomplete API returns matching cities and towns with "
                 "their ids.", Search(c, "q", _CITY_HIT, exact_param="exact"), (q,),
                 (boolean("exact", "Only return cities whose name matches exactly", False),)),
            Spec("Realtime Weather API", "Current or realtime weather information for a city id.",
                 Detail(c, "city_id", _CURRENT), (city_id,), asks=_WEATHER_ASKS,
                 facts=("current.temp_c", "current.condition"), flaky=Status.RATE_LIMIT),
            Spec("Forecast Weather API", "Forecast weather for up to 7 days for a city id.",
                 Embedded(c, "city_id", "forecast", "days", {"city": "name"}), (city_id,),
                 (number("days", "Number of days of forecast (1-7)", 3),),
                 asks=("What highs are forecast for {e} today and tomorrow?",
                       "Give me the maximum temperatures in {e} for the next two days.",
                       "Will it be hot in {e} today and tomorrow? Give me the forecast highs."),
                 facts=("forecast.0.max_c", "forecast.1.max_c")),
            Spec("Astronomy API", "Sunrise and sunset times for a city id.",
                 Detail(c, "city_id", {"location": "name", "astronomy": {"sunrise": "sunrise", "sunset": "sunset"}}),
                 (city_id,), asks=("When does the sun rise and set in {e}?", "What are the sunrise and sunset "
                                   "times in {e} today?"), facts=("astronomy.sunrise", "astronomy.sunset")),
        )),
        ToolSpec("Weather", "Open Weather Map", "Current weather, air pollution and geocoding from OpenWeather.", (
            Spec("Current Weather Data", "Current weather for a city given by name.",
                 Detail(c, "q", {"name": "name", "main": {"temp": "temp_c", "humidity": "humidity"},
                                 "weather": {"description": "condition"}, "wind": {"speed": "wind_kph"}}, by="name"),
                 (q,),
                 asks=("What's the temperature and humidity in {e} right now?",
                       "How warm and how humid is it in {e} today?"),
                 facts=("main.temp", "main.humidity")),
            Spec("Geocoding API", "Direct geocoding: coordinates and ids for a city name.",
                 Search(c, "q", {"city_id": "city_id", "name": "name", "lat": "lat", "lon": "lon",
                                 "country": "country_code"}, wrap=None), (q,),
                 asks=("What are the GPS coordinates of {e}?", "Find the latitude and longitude of {e}."),
                 facts=("0.lat", "0.lon")),
            Spec("Air Pollution", "Current air quality index for a city id.",
                 Detail(c, "city_id", {"city": "name", "list": {"aqi": "aqi"}}), (city_id,),
                 asks=("How bad is the air pollution in {e}?", "What's the air quality index in {e}?"),
                 facts=("list.aqi",), flaky=Status.API_NOT_WORKING),
        )),
        ToolSpec("Weather", "Visual Crossing Weather", "Historical and forecast weather data for any location.", (
            Spec("Weather Forecast Data", "Daily forecast for a location name.",
                 Embedded(c, "location", "forecast", "days", {"address": "name", "timezone": "timezone"},
                          by="name"), (string("location", "Location name, e.g. 'Madrid'", "Madrid"),),
                 (number("days", "Number of days", 3),),
                 asks=("What's today's forecast high and conditions in {e}?",
                       "Give me today's forecast for {e}: the high and the sky conditions."),
                 facts=("forecast.0.max_c", "forecast.0.condition")),
            Spec("Location Lookup", "Resolve a location name to a city id.",
                 Search(c, "location", {"city_id": "city_id", "resolved_address": "name", "tz": "timezone"}),
                 (string("location", "Location name", "Madrid"),)),
            Spec("Timeline Current", "Current conditions including UV index for a city id.",
                 Detail(c, "city_id", {"address": "name", "currentConditions": {"temp": "temp_c", "uvindex": "uv_index",
                                                                                 "conditions": "condition"}}),
                 (city_id,), asks=("What's the UV index in {e} right now?", "Is the sun strong in {e} today? "
                                   "Tell me the UV index."), facts=("currentConditions.uvindex",)),
        )),
        ToolSpec("Weather", "Meteostat", "Historical weather and climate data from thousands of stations.", (
            Spec("Nearby Stations", "Weather stations for a place name.",
                 Search(c, "query", {"station_city_id": "city_id", "name": "name", "elevation": "elevation_m"},
                        wrap="data"), (string("query", "Place name", "Berlin"),)),
            Spec("Point Daily Data", "Daily max/min temperatures for a station city id.",
                 Embedded(c, "station_city_id", "forecast", "limit"), (number("station_city_id", "Station city id",
                                                                               1000),),
                 (number("limit", "Maximum number of days", 7),),
                 asks=("What minimum temperature is expected in {e} in the coming days?",),
                 facts=("forecast.0.min_c",)),
            Spec("Station Meta Data", "Elevation and timezone of a station city id.",
                 Detail(c, "station_city_id", {"name": "name", "elevation": "elevation_m", "timezone": "timezone"}),
                 (number("station_city_id", "Station city id", 1000),),
                 asks=("How high above sea level is {e}?", "What is the elevation of {e}?"), facts=("elevation",)),
        )),
        ToolSpec("Weather", "AirVisual", "Air quality and weather data for cities worldwide.", (
            Spec("City Air Quality", "Air quality index and main pollutant for a city name.",
                 Detail(c, "city", {"city": "name", "current": {"aqius": "aqi", "tp": "temp_c"}}, by="name"),
                 (string("city", "City name", "Tokyo"),),
                 asks=("Is the air clean in {e} today? Give me the AQI.", "Check the AQI for {e}."),
                 facts=("current.aqius",), flaky=Status.TIMEOUT),
            Spec("Search City", "Find cities supported by AirVisual.",
                 Search(c, "city", {"city_id": "city_id", "city": "name"}),
                 (string("city", "City name", "Tokyo"),)),
            Spec("UV Forecast", "Humidity and UV index for a city id.",
                 Detail(c, "city_id", {"city": "name", "humidity": "humidity", "uv": "uv_index"}),
                 (number("city_id", "City id from Search City", 1000),),
                 asks=("What's the humidity and UV index in {e}?",), facts=("humidity", "uv")),
        )),
    ]


def _data(w: World) -> list[ToolSpec]:
    country = {"name": "name", "cca2": "code", "capital": "capital", "region": "region", "population": "population",
               "currency": "currency", "idd": "calling_code", "languages": "language", "area": "area_km2"}
    cname = string("name", "Country name, e.g. 'France'", "France")
    code = string("code", "ISO 3166-1 alpha-2 country code", "FR")
    ci = w.countries
    return [
        ToolSpec("Data", "REST Countries", "Get information about countries via a RESTful API.", (
            Spec("Name", "Search a country by its name.", Detail(ci, "name", country, by="name"), (cname,),
                 asks=("What is the capital of {e}, and which currency is used there?",
                       "Which city is the capital of {e}, and what currency do they use?"),
                 facts=("capital", "currency")),
            Spec("Currency", "Countries that use a currency code.",
                 ByField(ci, "currency", "currency", {"name": "name", "cca2": "code"}),
                 (string("currency", "ISO 4217 currency code", "EUR"),), (page(),),
                 asks=("Which countries use the {e} currency?",), facts=("results.0.name",)),
            Spec("Region", "Countries in a region.", ByField(ci, "region", "region", {"name": "name", "cca2": "code"}),
                 (string("region", "Region name, e.g. 'Europe'", "Europe"),), (page(),),
                 asks=("How many countries are in the {e} region?",), facts=("total",)),
            Spec("Code", "A country by ISO code.", Detail(ci, "code", country), (code,)),
        )),
        ToolSpec("Data", "GeoDB Cities", "Get global city, region, and country data.", (
            Spec("Find Cities", "Cities whose name matches a prefix.",
                 Search(w.cities, "name_prefix", {"city_id": "city_id", "city": "name", "countryCode": "country_code"},
                        wrap="data"), (string("name_prefix", "City name prefix", "Lyon"),)),
            Spec("City Details", "Population, elevation and timezone of a city id.",
                 Detail(w.cities, "city_id", {"city": "name", "population": "population", "elevationMeters":
                                             "elevation_m", "timezone": "timezone"}),
                 (number("city_id", "City id", 1000),), asks=("How many people live in {e}?",
                                                             "What's the population of the city of {e}?"),
                 facts=("population",)),
            Spec("Country Cities", "Cities of a country code, paginated.",
                 ByField(w.cities, "country_code", "country_id", {"id": "city_id", "name": "name"}, ref=ci),
                 (string("country_id", "ISO country code", "FR"),), (page(),),
                 asks=("How many cities does GeoDB list for {e}?",), facts=("total",)),
            Spec("Country Search", "Countries matching a name.",
                 Search(ci, "name_prefix", {"country_id": "code", "name": "name"}, wrap="data"),
                 (string("name_prefix", "Country name prefix", "Fra"),)),
        )),
        ToolSpec("Data", "Timezone by City", "Find the timezone and local clock data of any city.", (
            Spec("Timezone", "Timezone offset of a city name.",
                 Detail(w.cities, "city", {"city": "name", "timezone": "timezone", "country": "country"}, by="name"),
                 (string("city", "City name", "Tokyo"),), asks=("Which timezone is {e} in?",
                                                                "What is the UTC offset of {e}?"),
                 facts=("timezone",)),
            Spec("Sun Times", "Sunrise and sunset for a city name.",
                 Detail(w.cities, "city", {"city": "name", "sunrise": "sunrise", "sunset": "sunset"}, by="name"),
                 (string("city", "City name", "Tokyo"),), asks=("At what time is sunset in {e}?",),
                 facts=("sunset",)),
        )),
        ToolSpec("Data", "World Population", "Population and area statistics for every country.", (
            Spec("Get Population by Country", "Population of a country.",
                 Detail(ci, "country", {"country": "name", "population": "population"}, by="name"),
                 (string("country", "Country name", "Japan"),),
                 asks=("What's the population of {e}?", "How many people live in {e}?"), facts=("population",),
                 flaky=Status.API_NOT_WORKING),
            Spec("Get Area by Country", "Land area of a country in square kilometres.",
                 Detail(ci, "country", {"country": "name", "area_km2": "area_km2"}, by="name"),
                 (string("country", "Country name", "Japan"),), asks=("How large is {e} in square kilometres?",),
                 facts=("area_km2",)),
            Spec("Countries by Region", "Countries of a region with population.",
                 ByField(ci, "region", "region", {"country": "name", "population": "population"}),
                 (string("region", "Region", "Asia"),), (page(),)),
        )),
        ToolSpec("Data", "Country Calling Codes", "International dialling codes and official languages.", (
            Spec("Calling Code", "Dialling code of a country.",
                 Detail(ci, "country", {"country": "name", "calling_code": "calling_code"}, by="name"),
                 (string("country", "Country name", "Kenya"),),
                 asks=("What's the international dialling code for {e}?", "Which calling code do I use to "
                       "phone {e}?"), facts=("calling_code",)),
            Spec("Lookup by ISO", "Calling code and language for an ISO code.",
                 Detail(ci, "iso", {"country": "name", "calling_code": "calling_code", "language": "language"}),
                 (string("iso", "ISO alpha-2 code", "KE"),)),
            Spec("Official Language", "Main official language of a country.",
                 Detail(ci, "country", {"country": "name", "language": "language"}, by="name"),
                 (string("country", "Country name", "Kenya"),), asks=("What language do people speak in {e}?",),
                 facts=("language",)),
        )),
    ]


def _travel(w: World) -> list[ToolSpec]:
    hotel = {"hotel_id": "hotel_id", "hotel_name": "name", "stars": "stars", "price": "price_per_night"}
    flight_out = {"flight_number": "flight_number", "airline": "airline", "departure": "departure",
                  "stops": "stops", "price": "price_usd"}
    iata = ("Origin IATA airport code", "Destination IATA airport code", "Departure date (YYYY-MM-DD)")
    return [
        ToolSpec("Travel", "Skyscanner Flights", "Search flights, airports and prices from Skyscanner.", (
            Spec("Search Airport", "Airports matching a city or airport name.",
                 Search(w.airports, "query", {"iata": "iata", "name": "name", "city_id": "city_id"}, wrap="data"),
                 (string("query", "City or airport name", "Lyon"),),
                 asks=("What's the IATA code of {e} airport?", "Which IATA code does {e} airport have?"),
                 facts=("data.0.iata",)),
            Spec("Search Flights", "One-way flights between two airports on a date, cheapest first.",
                 Flights(w, "origin", "destination", "date", flight_out),
                 (string("origin", iata[0], "LHR"), string("destination", iata[1], "JFK"),
                  string("date", iata[2], "2024-08-01")),
                 asks=("Find me the cheapest flight from {e} and tell me its flight number and price.",
                       "What flights are there from {e}? I want the cheapest one's number and fare."),
                 facts=("flights.0.flight_number", "flights.0.price"),
                 flaky=Status.RATE_LIMIT),
            Spec("Airport Details", "Name and city of an airport code.",
                 Detail(w.airports, "iata", {"iata": "iata", "name": "name", "city": "city"}),
                 (string("iata", "IATA code", "LHR"),)),
        )),
        ToolSpec("Travel", "Booking.com", "Search hotels, destinations and prices on Booking.com.", (
            Spec("Search Destinations", "Destination ids for a city name.",
                 Search(w.cities, "query", {"dest_id": "city_id", "city_name": "name", "country": "country"}),
                 (string("query", "Destination name", "Rome"),)),
            Spec("Hotels by Destination", "Hotels of a destination id, paginated.",
                 ByField(w.hotels, "city_id", "dest_id", hotel, ref=w.cities), (number("dest_id", "Destination id",
                                                                                       1000),), (page(),),
                 asks=("Which hotel can I book in {e}? Give me the first option and its nightly price.",
                       "Show me the first hotel option in {e} with its price."),
                 facts=("results.0.hotel_name", "results.0.price")),
            Spec("Hotel Details", "Address, rating and cancellation policy of a hotel id.",
                 Detail(w.hotels, "hotel_id", {"hotel_name": "name", "address": "address", "review_score": "rating",
                                               "free_cancellation": "free_cancellation"}),
                 (number("hotel_id", "Hotel id", 50001),)),
            Spec("Search Hotel by Name", "Hotels matching a name.",
                 Search(w.hotels, "name", {"hotel_id": "hotel_id", "hotel_name": "name", "city": "city"}),
                 (string("name", "Hotel name", "Golden Harbor Hotel Paris"),)),
        )),
        ToolSpec("Travel", "Hotels.com Provider", "Hotel search and details from Hotels.com.", (
            Spec("Regions Search", "Region ids for a city name.",
                 Search(w.cities, "query", {"region_id": "city_id", "name": "name"}),
                 (string("query", "City name", "Rome"),)),
            Spec("Hotels Search", "Hotels of a region id.",
                 ByField(w.hotels, "city_id", "region_id", {"hotel_id": "hotel_id", "name": "name", "stars": "stars",
                                                            "guest_rating": "rating"}, ref=w.cities),
                 (number("region_id", "Region id", 1000),), (page(),),
                 asks=("Which hotel does Hotels.com list first in {e}, and what's its guest rating?",),
                 facts=("results.0.name", "results.0.guest_rating")),
            Spec("Hotel Info", "Summary of a hotel by exact name.",
                 Detail(w.hotels, "hotel_name", {"name": "name", "stars": "stars", "price": "price_per_night",
                                                 "reviews": "reviews"}, by="name"),
                 (string("hotel_name", "Exact hotel name", "Golden Harbor Hotel Paris"),),
                 asks=("How much is a night at the {e}?", "What's the nightly price at {e}?"),
                 facts=("price",), flaky=Status.API_NOT_WORKING),
        )),
        ToolSpec("Travel", "Airport Info", "Details of airports by IATA code.", (
            Spec("Airport by IATA", "Airport name and city for an IATA code.",
                 Detail(w.airports, "iata", {"name": "name", "city": "city", "country": "country_code"}),
                 (string("iata", "IATA code", "CDG"),), asks=("Which city is airport code {e} in?",),
                 facts=("city",)),
            Spec("Airports by City", "Airports serving a city id.",
                 ByField(w.airports, "city_id", "city_id", {"iata": "iata", "name": "name"}, ref=w.cities),
                 (number("city_id", "City id", 1000),), (page(),)),
            Spec("City Search", "City ids for a city name.",
                 Search(w.cities, "name", {"city_id": "city_id", "name": "name"}),
                 (string("name", "City name", "Paris"),)),
        )),
        ToolSpec("Travel", "TripAdvisor", "Hotel reviews and traveller ratings from TripAdvisor.", (
            Spec("Search Location", "Location ids for a city.", Search(w.cities, "query", {"location_id": "city_id",
                                                                                           "name": "name"}),
                 (string("query", "City name", "Oslo"),)),
            Spec("Hotel Ratings", "Traveller rating and review count of a hotel.",
                 Detail(w.hotels, "hotel", {"name": "name", "rating": "rating", "num_reviews": "reviews"}, by="name"),
                 (string("hotel", "Hotel name", "Golden Harbor Hotel Paris"),),
                 asks=("How do travellers rate the {e}, and how many reviews does it have?",
                       "What rating does {e} have on TripAdvisor, and from how many reviews?"),
                 facts=("rating", "num_reviews")),
            Spec("Hotels in Location", "Hotels of a location id with ratings.",
                 ByField(w.hotels, "city_id", "location_id", {"name": "name", "rating": "rating"}, ref=w.cities),
                 (number("location_id", "Location id", 1000),), (page(),),
                 asks=("Which hotel does TripAdvisor list first for {e}?",), facts=("results.0.name",)),
        )),
        ToolSpec("Travel", "Currency Exchange", "Live currency exchange rates for travellers.", (
            Spec("Exchange", "Exchange rate between two currency codes.",
                 Convert(w, "from_currency", "to_currency", None, ("from", "to", "rate")),
                 (string("from_currency", "Source currency code", "USD"),
                  string("to_currency", "Target currency code", "EUR")),
                 asks=("What's the exchange rate from {e}?",), facts=("rate",), flaky=Status.RATE_LIMIT),
            Spec("List Quotes", "Currencies matching a name.",
                 Search(w.currencies, "name", {"code": "code", "name": "name", "symbol": "symbol"}),
                 (string("name", "Currency name", "Euro"),)),
        )),
    ]


def tools(world: World) -> list[ToolSpec]:
    return _weather(world) + _data(world) + _travel(world)
